/* placeholder */ typedef int lk_placeholder_t;
