# package.cmake: `make deb` (cpack -G DEB in a build configured with
# CMAKE_INSTALL_PREFIX=/usr) builds latchkey_VERSION_ARCH.deb from the
# install() rules of install.cmake, so there is one build system and one
# list of installed files. CPack rather than dpkg-buildpackage: no
# debian/ tree of a second build to keep in step; dpkg-shlibdeps (from
# dpkg-dev, which build-essential brings) still computes the libraries'
# dependencies. docs/install.md says what the package does.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME latchkey)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "OAuth 2.0 authorization server")
set(CPACK_PACKAGE_DESCRIPTION
    "Latchkey serves OAuth 2.0 access and refresh tokens (client credentials, password, refresh token and authorization code with PKCE), introspection and revocation, from an SQLite file or PostgreSQL. latchkeyd is the server, latchkey the admin CLI.")
set(CPACK_PACKAGE_CONTACT "Latchkey maintainers <latchkey@localhost>")
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
# Runtime libraries: computed by dpkg-shlibdeps from the binaries. Only
# what the maintainer scripts run is named by hand.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")

# postinst: the latchkey user and /var/lib/latchkey; prerm: stop the
# service; postrm: on purge, the data and the user; conffiles: the
# configuration is kept on upgrade and removal (dpkg asks before
# replacing an edited one).
foreach(f postinst prerm postrm conffiles)
  configure_file(${CMAKE_SOURCE_DIR}/contrib/debian/${f}
                 ${CMAKE_BINARY_DIR}/debian/${f} @ONLY)
  list(APPEND CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${CMAKE_BINARY_DIR}/debian/${f})
endforeach()
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)
include(CPack)
