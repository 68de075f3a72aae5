# SPDX-License-Identifier: MIT
# What `cmake --install BUILD [--prefix P]` puts where; included by the
# top-level CMakeLists.txt. Everything installed is relocatable: the
# pkg-config file finds its prefix from where it lies (${pcfiledir}), the CMake
# package from where its files lie, and the systemd unit is written at install
# time with the prefix given then.

install(TARGETS wsrouter EXPORT wsrouterTargets LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(TARGETS wsrouterd RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
if(WSR_WITH_CLIENT)
  install(TARGETS wsrouter-cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()
install(DIRECTORY ${CMAKE_SOURCE_DIR}/include/wsrouter DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

# pkg-config: `cc prog.c $(pkg-config --cflags --libs wsrouter)`. The prefix is
# the pkgconfig directory's ancestor (../.. for lib/pkgconfig, ../../.. for
# lib/x86_64-linux-gnu/pkgconfig), unless the directories were given as
# absolute paths, which cannot move.
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}" OR IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
  set(WSR_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
  set(WSR_PC_LIBDIR "${CMAKE_INSTALL_FULL_LIBDIR}")
  set(WSR_PC_INCLUDEDIR "${CMAKE_INSTALL_FULL_INCLUDEDIR}")
else()
  file(RELATIVE_PATH _wsr_up "/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/")
  string(REGEX REPLACE "/$" "" _wsr_up "${_wsr_up}")
  set(WSR_PC_PREFIX "\${pcfiledir}/${_wsr_up}")
  set(WSR_PC_LIBDIR "\${prefix}/${CMAKE_INSTALL_LIBDIR}")
  set(WSR_PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
endif()
configure_file(${CMAKE_SOURCE_DIR}/dist/wsrouter.pc.in ${CMAKE_BINARY_DIR}/wsrouter.pc @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/wsrouter.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

# The CMake package: find_package(wsrouter 0.2) and link wsrouter::wsrouter.
include(CMakePackageConfigHelpers)
set(WSR_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/wsrouter)
install(EXPORT wsrouterTargets NAMESPACE wsrouter:: DESTINATION ${WSR_CMAKE_DIR})
configure_package_config_file(${CMAKE_SOURCE_DIR}/dist/wsrouterConfig.cmake.in
  ${CMAKE_BINARY_DIR}/wsrouterConfig.cmake INSTALL_DESTINATION ${WSR_CMAKE_DIR})
# 0.x: a minor version may break the API (CHANGELOG.md), so 0.2.x matches only 0.2.
write_basic_package_version_file(${CMAKE_BINARY_DIR}/wsrouterConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/wsrouterConfig.cmake ${CMAKE_BINARY_DIR}/wsrouterConfigVersion.cmake
  DESTINATION ${WSR_CMAKE_DIR})

# Manual pages.
install(FILES ${CMAKE_SOURCE_DIR}/dist/man/wsrouterd.8 DESTINATION ${CMAKE_INSTALL_MANDIR}/man8)
if(WSR_WITH_CLIENT)
  install(FILES ${CMAKE_SOURCE_DIR}/dist/man/wsrouter-cli.1 DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
endif()

# The systemd unit, with ExecStart naming the installed wsrouterd. It is
# written when installing, so that `--prefix` given then is the one it names.
# PREFIX/lib/systemd/system is on systemd's search path for /usr and /usr/local.
set(WSR_SYSTEMD_UNITDIR "lib/systemd/system" CACHE STRING
  "Where the systemd unit is installed (relative: under the prefix)")
install(CODE "
  set(WSROUTERD \"${CMAKE_INSTALL_BINDIR}/wsrouterd\")
  if(NOT IS_ABSOLUTE \"\${WSROUTERD}\")
    set(WSROUTERD \"\${CMAKE_INSTALL_PREFIX}/\${WSROUTERD}\")
  endif()
  configure_file(\"${CMAKE_SOURCE_DIR}/dist/systemd/wsrouterd.service.in\"
    \"${CMAKE_BINARY_DIR}/wsrouterd.service\" @ONLY)
")
install(FILES ${CMAKE_BINARY_DIR}/wsrouterd.service DESTINATION ${WSR_SYSTEMD_UNITDIR})
