# What `cmake --install build --prefix P` puts where, and the Debian package CPack makes of it
# (`cpack -G DEB` in the build folder):
#   P/bin/moesim, P/bin/moesim-validate (when CUDA is built)
#   P/share/moesim/workloads/{models,studies,engines}/*.yaml
#   P/share/moesim/platforms/{*.yaml,*.xml,gpus.yaml,README.md,calibration/*.yaml}
#   P/share/moesim/validate/matrix/*.yaml, validate/results/error-bands.yaml (the validated error
#   band run prints per scenario), validate/public/published.yaml (`moesim published`)
# bin/moesim finds its data at ../share/moesim (pipeline/data_root.hpp): keep the two folders
# side by side, whatever the prefix.
set(MOESIM_DATA_DESTINATION share/moesim)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/workloads/models ${PROJECT_SOURCE_DIR}/workloads/studies
                  ${PROJECT_SOURCE_DIR}/workloads/engines
        DESTINATION ${MOESIM_DATA_DESTINATION}/workloads FILES_MATCHING PATTERN "*.yaml")
install(DIRECTORY ${PROJECT_SOURCE_DIR}/platforms/ DESTINATION ${MOESIM_DATA_DESTINATION}/platforms
        FILES_MATCHING PATTERN "*.yaml" PATTERN "*.xml" PATTERN "README.md")
install(DIRECTORY ${PROJECT_SOURCE_DIR}/validate/matrix DESTINATION ${MOESIM_DATA_DESTINATION}/validate
        FILES_MATCHING PATTERN "*.yaml" PATTERN "*gpu*" EXCLUDE)
install(FILES ${PROJECT_SOURCE_DIR}/validate/results/error-bands.yaml DESTINATION ${MOESIM_DATA_DESTINATION}/validate/results)
install(FILES ${PROJECT_SOURCE_DIR}/validate/public/published.yaml DESTINATION ${MOESIM_DATA_DESTINATION}/validate/public)
install(FILES ${PROJECT_SOURCE_DIR}/README.md DESTINATION share/doc/moesim)

set(CPACK_PACKAGE_NAME moesim)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "moesim")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "Discrete-event simulation of Mixture-of-Experts inference under TP, EP, PP, DP (SimGrid)")
set(CPACK_PACKAGE_INSTALL_DIRECTORY moesim)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "moesim maintainers <moesim@localhost>")
set(CPACK_DEBIAN_PACKAGE_SECTION science)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
# The shared libraries the binaries link (SimGrid, yaml-cpp, Boost; CUDA and NCCL when
# moesim-validate is built) become the package's dependencies, as dpkg-shlibdeps finds them.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
include(CPack)
