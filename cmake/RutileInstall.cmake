# `cmake --install` produces a package an outside project consumes with
# find_package(rutile CONFIG REQUIRED) and target_link_libraries(app rutile::rutile).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/rutile DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS rutile ${RUTILE_ALL_LIBRARIES} EXPORT rutileTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT rutileTargets NAMESPACE rutile:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/rutile)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/rutileConfig.cmake.in
  ${PROJECT_BINARY_DIR}/rutileConfig.cmake INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/rutile)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/rutileConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/rutileConfig.cmake ${PROJECT_BINARY_DIR}/rutileConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/rutile)
