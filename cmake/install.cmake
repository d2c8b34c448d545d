# install.cmake: what `make install` (cmake --install) puts where, with
# GNUInstallDirs: PREFIX (CMAKE_INSTALL_PREFIX, default /usr/local) and
# DESTDIR are honoured. docs/install.md lists the result.
#
#   bin/latchkeyd, bin/latchkey          the two binaries
#   share/man/man8/latchkeyd.8, man1/latchkey.1
#   SYSCONFDIR/latchkey/latchkey.ini     the example configuration, with
#                                        db = /var/lib/latchkey/latchkey.db
#   systemd unit dir/latchkeyd.service   generated from the dirs above
#   share/doc/latchkey/                  README.md, LICENSE and docs/*.md
#   share/bash-completion/completions/latchkey
#                                        `latchkey completion bash`'s
#                                        output, made at build time
#
# For prefix /usr, GNUInstallDirs makes SYSCONFDIR /etc, and the unit goes
# to /lib/systemd/system (Debian's place for packaged units); for any other
# prefix both stay under it (PREFIX/etc, PREFIX/lib/systemd/system), so an
# unprivileged `make install PREFIX=$HOME/x` writes nowhere else.
include(GNUInstallDirs)

# Empty in the cache unless the operator sets it: derived from the prefix
# of this configure run, so a build directory configured once with the
# default prefix still puts the unit right for PREFIX=/usr.
set(LATCHKEY_SYSTEMD_UNIT_DIR "" CACHE PATH
    "Where make install puts latchkeyd.service (empty: from the prefix)")
if(LATCHKEY_SYSTEMD_UNIT_DIR)
  set(LK_UNIT_DIR ${LATCHKEY_SYSTEMD_UNIT_DIR})
elseif(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  set(LK_UNIT_DIR /lib/systemd/system)
else()
  set(LK_UNIT_DIR ${CMAKE_INSTALL_PREFIX}/lib/systemd/system)
endif()
set(LK_CONFIG_DIR ${CMAKE_INSTALL_FULL_SYSCONFDIR}/latchkey)
set(LK_CONFIG_FILE ${LK_CONFIG_DIR}/latchkey.ini)

# The service's database lives in systemd's StateDirectory, /var/lib
# whatever the prefix; the installed example names it, so latchkeyd and
# `latchkey --config` find the same file.
set(LK_STATE_DIR /var/lib/latchkey)
file(READ ${CMAKE_SOURCE_DIR}/contrib/latchkey.ini lk_ini)
string(REPLACE "#db = ./latchkey.db"
       "db = ${LK_STATE_DIR}/latchkey.db" lk_ini_installed "${lk_ini}")
if(lk_ini_installed STREQUAL lk_ini)
  message(FATAL_ERROR "contrib/latchkey.ini has no '#db = ./latchkey.db' "
                      "line for the installed copy to replace")
endif()
file(WRITE ${CMAKE_BINARY_DIR}/install/latchkey.ini "${lk_ini_installed}")
configure_file(${CMAKE_SOURCE_DIR}/contrib/latchkeyd.service.in
               ${CMAKE_BINARY_DIR}/install/latchkeyd.service @ONLY)

install(TARGETS latchkeyd latchkey RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES ${CMAKE_SOURCE_DIR}/man/latchkeyd.8
        DESTINATION ${CMAKE_INSTALL_MANDIR}/man8)
install(FILES ${CMAKE_SOURCE_DIR}/man/latchkey.1
        DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
# 0640: the file may hold a PostgreSQL URI; the package's postinst gives
# it to group latchkey (make install leaves that to the operator).
install(FILES ${CMAKE_BINARY_DIR}/install/latchkey.ini
        DESTINATION ${LK_CONFIG_DIR}
        PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ)
install(FILES ${CMAKE_BINARY_DIR}/install/latchkeyd.service
        DESTINATION ${LK_UNIT_DIR})
# The completion comes from the CLI's own command table, as --help does.
set(LK_COMPLETION ${CMAKE_BINARY_DIR}/install/latchkey.bash-completion)
add_custom_command(
  OUTPUT ${LK_COMPLETION}
  COMMAND sh -c "\"$1\" completion bash > \"$2\"" sh
          $<TARGET_FILE:latchkey> ${LK_COMPLETION}
  DEPENDS latchkey
  COMMENT "Generating the bash completion of latchkey"
  VERBATIM)
add_custom_target(latchkey_completion ALL DEPENDS ${LK_COMPLETION})
install(FILES ${LK_COMPLETION}
        DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions
        RENAME latchkey)
file(GLOB LK_DOCS ${CMAKE_SOURCE_DIR}/docs/*.md)
install(FILES ${CMAKE_SOURCE_DIR}/README.md ${CMAKE_SOURCE_DIR}/LICENSE ${LK_DOCS}
        DESTINATION ${CMAKE_INSTALL_DOCDIR})
