# Install rules and the Debian package (`cpack -G DEB` in a build directory): the binary in
# /usr/sbin, rule packs and the configuration in /etc/rcptwatch, the systemd unit, the man
# page, and a postinst that creates the unprivileged `rcptwatch` user.
include(GNUInstallDirs)
install(TARGETS rcptwatch RUNTIME DESTINATION ${CMAKE_INSTALL_SBINDIR})
file(GLOB RCPTWATCH_RULE_PACKS ${PROJECT_SOURCE_DIR}/rules/*.rules)
install(FILES ${RCPTWATCH_RULE_PACKS} ${PROJECT_SOURCE_DIR}/rules/README.md
        DESTINATION /etc/rcptwatch/rules)
install(FILES ${PROJECT_SOURCE_DIR}/packaging/rcptwatch.conf DESTINATION /etc/rcptwatch)
install(FILES ${PROJECT_SOURCE_DIR}/packaging/rcptwatch.service DESTINATION /lib/systemd/system)
install(FILES ${PROJECT_SOURCE_DIR}/packaging/rcptwatch.8 DESTINATION ${CMAKE_INSTALL_MANDIR}/man8)

set(CPACK_PACKAGE_NAME rcptwatch)
set(CPACK_PACKAGE_VENDOR "rcptwatch")
set(CPACK_PACKAGE_CONTACT "rcptwatch maintainers <rcptwatch@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "passive SMTP sensor that flags recipients at lookalike domains")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)  # Depends: from the linked libraries (dpkg-shlibdeps)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
# Files under /etc are conffiles: an upgrade keeps the administrator's edits.
set(RCPTWATCH_CONFFILES "/etc/rcptwatch/rcptwatch.conf\n/etc/rcptwatch/rules/README.md\n")
foreach(pack ${RCPTWATCH_RULE_PACKS})
  get_filename_component(pack_name ${pack} NAME)
  string(APPEND RCPTWATCH_CONFFILES "/etc/rcptwatch/rules/${pack_name}\n")
endforeach()
file(WRITE ${PROJECT_BINARY_DIR}/packaging/conffiles "${RCPTWATCH_CONFFILES}")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${PROJECT_SOURCE_DIR}/packaging/postinst
    ${PROJECT_BINARY_DIR}/packaging/conffiles)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
