# What `cmake --install build --prefix P` puts where, and the Debian packages CPack makes of it
# (`cpack -G DEB` in the build folder), one per install component:
#   moesim (component simulator): P/bin/moesim and its data; needs no GPU, links no CUDA
#     P/share/moesim/workloads/{models,studies,engines}/*.yaml
#     P/share/moesim/platforms/{*.yaml,*.xml,gpus.yaml,README.md,calibration/*.yaml}
#     P/share/moesim/validate/matrix/*.yaml, validate/results/error-bands.yaml (the validated error
#     band run prints per scenario), validate/public/published.yaml (`moesim published`)
#   moesim-validate (component harness, when CUDA is built): P/bin/moesim-validate
# bin/moesim finds its data at ../share/moesim (pipeline/data_root.hpp): keep the two folders
# side by side, whatever the prefix.
set(MOESIM_DATA_DESTINATION share/moesim)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/workloads/models ${PROJECT_SOURCE_DIR}/workloads/studies
                  ${PROJECT_SOURCE_DIR}/workloads/engines
        DESTINATION ${MOESIM_DATA_DESTINATION}/workloads COMPONENT simulator FILES_MATCHING PATTERN "*.yaml")
install(DIRECTORY ${PROJECT_SOURCE_DIR}/platforms/ DESTINATION ${MOESIM_DATA_DESTINATION}/platforms COMPONENT simulator
        FILES_MATCHING PATTERN "*.yaml" PATTERN "*.xml" PATTERN "README.md")
install(DIRECTORY ${PROJECT_SOURCE_DIR}/validate/matrix DESTINATION ${MOESIM_DATA_DESTINATION}/validate COMPONENT simulator
        FILES_MATCHING PATTERN "*.yaml" PATTERN "*gpu*" EXCLUDE)
install(FILES ${PROJECT_SOURCE_DIR}/validate/results/error-bands.yaml DESTINATION ${MOESIM_DATA_DESTINATION}/validate/results
        COMPONENT simulator)
install(FILES ${PROJECT_SOURCE_DIR}/validate/public/published.yaml DESTINATION ${MOESIM_DATA_DESTINATION}/validate/public
        COMPONENT simulator)
install(FILES ${PROJECT_SOURCE_DIR}/README.md DESTINATION share/doc/moesim COMPONENT simulator)

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
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL simulator)
set(CPACK_DEBIAN_SIMULATOR_PACKAGE_NAME moesim)
set(CPACK_COMPONENT_SIMULATOR_DESCRIPTION
    "Discrete-event simulation of Mixture-of-Experts inference under TP, EP, PP, DP (SimGrid); no GPU needed")
# The shared libraries that Debian packages own (SimGrid, yaml-cpp, Boost, libstdc++) become each
# package's dependencies as dpkg-shlibdeps finds them. It skips libraries no Debian package owns:
# the CUDA and NCCL runtimes, which come from NVIDIA's apt repository and are declared below.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)

# The harness's runtime libraries outside Debian, each as soname=package, the package being the one
# in NVIDIA's CUDA apt repository that ships that soname (cuda-cudart-X-Y: libcudart.so.X;
# libcublas-X-Y: libcublas.so.X and libcublasLt.so.X; libnccl2: libnccl.so.2). The same table is
# written to the build folder (deb-provides.txt) for scripts/check-deb-deps.sh, which asserts that
# every library a packaged binary needs is covered.
set(MOESIM_DEB_PROVIDES "")
if(MOESIM_CUDA_ENABLED)
  set(_cuda_pkg_ver "${CUDAToolkit_VERSION_MAJOR}-${CUDAToolkit_VERSION_MINOR}")
  set(_nccl_min "")
  file(STRINGS "${MOESIM_NCCL_INCLUDE}/nccl.h" _nccl_ver REGEX "^#define NCCL_(MAJOR|MINOR) [0-9]+")
  if(_nccl_ver MATCHES "NCCL_MAJOR ([0-9]+);#define NCCL_MINOR ([0-9]+)")
    set(_nccl_min " (>= ${CMAKE_MATCH_1}.${CMAKE_MATCH_2})") # built against these headers
  endif()
  list(APPEND MOESIM_DEB_PROVIDES "libcudart.so.${CUDAToolkit_VERSION_MAJOR}=cuda-cudart-${_cuda_pkg_ver}"
       "libcublas.so.${CUDAToolkit_VERSION_MAJOR}=libcublas-${_cuda_pkg_ver}"
       "libcublasLt.so.${CUDAToolkit_VERSION_MAJOR}=libcublas-${_cuda_pkg_ver}" "libnccl.so.2=libnccl2")
  list(APPEND CPACK_COMPONENTS_ALL harness)
  set(CPACK_DEBIAN_HARNESS_PACKAGE_NAME moesim-validate)
  set(CPACK_COMPONENT_HARNESS_DESCRIPTION
      "moesim-validate: replays moesim schedules on NVIDIA GPUs (CUDA, cuBLASLt, NCCL)")
  # Its data (validate/matrix, platforms) is the simulator package's.
  set(CPACK_DEBIAN_HARNESS_PACKAGE_DEPENDS
      "moesim (= ${PROJECT_VERSION}), cuda-cudart-${_cuda_pkg_ver}, libcublas-${_cuda_pkg_ver}, libnccl2${_nccl_min}")
endif()
list(JOIN MOESIM_DEB_PROVIDES "\n" _provides)
file(CONFIGURE OUTPUT ${PROJECT_BINARY_DIR}/deb-provides.txt CONTENT "${_provides}\n" @ONLY)
include(CPack)
