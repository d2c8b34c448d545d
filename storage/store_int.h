/* store_int.h: declarations shared inside storage/ only. */
#ifndef LK_STORE_INT_H
#define LK_STORE_INT_H

#include "store.h"

/* Maps a SQLite result code to the store's. */
enum store_rc store_sqlite_rc(int rc);

enum store_rc store_sqlite_open(const char *path, struct store **out,
                                char *err, size_t errlen);

#endif
