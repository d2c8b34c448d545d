# Turns one file (IN) into a C array named NAME in OUT, NUL-terminated, so
# a binary serves it without reading the disk: the admin API's OpenAPI
# document (admin-api/openapi.json).
file(READ ${IN} hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," hex "${hex}")
file(WRITE ${OUT} "/* Generated from ${IN} by cmake/embed_file.cmake. */\nconst char ${NAME}[] = {${hex}0x00};\n")
