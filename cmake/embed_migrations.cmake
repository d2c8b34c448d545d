# Turns migrations/NNNN_name.sql (SQLite, and from 0005 on also the shared
# files) and migrations/postgresql/NNNN_name.sql into two C arrays, so that
# both binaries carry the schema of both dialects and no .sql file has to be
# installed next to them.
#
# lk_migrations[]: SQLite, every file of migrations/.
# lk_migrations_pg[]: PostgreSQL, for each number the file of
# migrations/postgresql/ when there is one, else (from 0005 on) the shared
# file of migrations/; 0001-0004 were written for SQLite only and must have
# a PostgreSQL file.
set(body "/* Generated from migrations/ by cmake/embed_migrations.cmake. */\n#include \"migrate.h\"\n\n")

# Appends one migration's array to body and its row to the named table.
macro(embed_one f prefix table_var)
  get_filename_component(base ${f} NAME_WE)
  if(NOT base MATCHES "^([0-9][0-9][0-9][0-9])_([a-z0-9_]+)$")
    message(FATAL_ERROR "migration file name must be NNNN_name.sql: ${f}")
  endif()
  set(num ${CMAKE_MATCH_1})
  set(name ${CMAKE_MATCH_2})
  math(EXPR ver "${num}")
  file(READ ${f} hex HEX)
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," hex "${hex}")
  string(APPEND body "static const char ${prefix}${num}[] = {${hex}0x00};\n")
  string(APPEND ${table_var} "  {${ver}, \"${name}\", ${prefix}${num}},\n")
endmacro()

set(table "")
set(count 0)
string(REPLACE "|" ";" FILES "${FILES}")
string(REPLACE "|" ";" PG_FILES "${PG_FILES}")
set(pg_nums "")
foreach(f IN LISTS PG_FILES)
  get_filename_component(base ${f} NAME_WE)
  string(SUBSTRING "${base}" 0 4 n)
  list(APPEND pg_nums ${n})
endforeach()

foreach(f IN LISTS FILES)
  embed_one(${f} m table)
  math(EXPR count "${count} + 1")
endforeach()

# PostgreSQL: merge the dialect's files with the shared ones, by number.
set(pg_all "")
foreach(f IN LISTS PG_FILES)
  list(APPEND pg_all ${f})
endforeach()
foreach(f IN LISTS FILES)
  get_filename_component(base ${f} NAME_WE)
  string(SUBSTRING "${base}" 0 4 n)
  list(FIND pg_nums ${n} found)
  if(found EQUAL -1)
    if(n LESS 5)
      message(FATAL_ERROR "migrations/postgresql/ has no ${n}_*.sql")
    endif()
    list(APPEND pg_all ${f})
  endif()
endforeach()
set(pg_sorted "")
foreach(f IN LISTS pg_all)
  get_filename_component(base ${f} NAME_WE)
  list(APPEND pg_sorted "${base}|${f}")
endforeach()
list(SORT pg_sorted)
set(pg_table "")
set(pg_count 0)
foreach(e IN LISTS pg_sorted)
  string(REGEX REPLACE "^[^|]*\\|" "" f "${e}")
  embed_one(${f} p pg_table)
  math(EXPR pg_count "${pg_count} + 1")
endforeach()

string(APPEND body "\nconst struct migration lk_migrations[] = {\n${table}};\n")
string(APPEND body "const size_t lk_migrations_count = ${count};\n")
string(APPEND body "\nconst struct migration lk_migrations_pg[] = {\n${pg_table}};\n")
string(APPEND body "const size_t lk_migrations_pg_count = ${pg_count};\n")
file(WRITE ${OUT}.tmp "${body}")
file(COPY_FILE ${OUT}.tmp ${OUT} ONLY_IF_DIFFERENT)
file(REMOVE ${OUT}.tmp)
