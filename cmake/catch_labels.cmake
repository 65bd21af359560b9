# Catch2 tags as CTest labels. Catch2 v2's catch_discover_tests registers one CTest test per
# TEST_CASE but drops the tags, so `ctest -L quick` would select nothing. moesim_discover_tests
# (TARGET [catch_discover_tests arguments]) does what catch_discover_tests does, then, after each
# build, asks the executable which tests carry each tier tag ([quick], [slow], [gpu]) and labels
# them: `ctest -L quick`, `ctest -L slow`, `ctest -L gpu`, `ctest -LE slow`.
set(MOESIM_TEST_TIERS quick slow gpu)
set(_moesim_catch_labels_script ${CMAKE_CURRENT_LIST_DIR}/catch_labels_script.cmake)

function(moesim_discover_tests TARGET)
  catch_discover_tests(${TARGET} ${ARGN})
  set(labels_file "${CMAKE_CURRENT_BINARY_DIR}/${TARGET}_labels.cmake")
  get_property(labelled TARGET ${TARGET} PROPERTY MOESIM_LABELLED)
  if(labelled)
    return() # a second discovery of the same executable (e.g. [gpu] and ~[gpu]): labelled once
  endif()
  set_property(TARGET ${TARGET} PROPERTY MOESIM_LABELLED ON)
  add_custom_command(
    TARGET ${TARGET} POST_BUILD
    BYPRODUCTS "${labels_file}"
    COMMAND "${CMAKE_COMMAND}" -D "EXE=$<TARGET_FILE:${TARGET}>" -D "OUT=${labels_file}"
            -D "TIERS=${MOESIM_TEST_TIERS}" -P "${_moesim_catch_labels_script}"
    VERBATIM)
  set(include_file "${CMAKE_CURRENT_BINARY_DIR}/${TARGET}_labels_include.cmake")
  file(WRITE "${include_file}" "if(EXISTS \"${labels_file}\")\n  include(\"${labels_file}\")\nendif()\n")
  # After catch_discover_tests' include file: the tests exist before they are labelled.
  set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES "${include_file}")
endfunction()
