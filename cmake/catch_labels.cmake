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
  set(include_file "${CMAKE_CURRENT_BINARY_DIR}/${TARGET}_labels_include.cmake")
  get_property(labelled TARGET ${TARGET} PROPERTY MOESIM_LABELLED)
  if(NOT labelled)
    set_property(TARGET ${TARGET} PROPERTY MOESIM_LABELLED ON)
    add_custom_command(
      TARGET ${TARGET} POST_BUILD
      BYPRODUCTS "${labels_file}"
      COMMAND "${CMAKE_COMMAND}" -D "EXE=$<TARGET_FILE:${TARGET}>" -D "OUT=${labels_file}"
              -D "TIERS=${MOESIM_TEST_TIERS}" -P "${_moesim_catch_labels_script}"
      VERBATIM)
    file(WRITE "${include_file}" "if(EXISTS \"${labels_file}\")\n  include(\"${labels_file}\")\nendif()\n")
  endif()
  # After every catch_discover_tests include of this executable (a second discovery, e.g. [gpu] and
  # ~[gpu], moves it to the end): the tests exist before they are labelled.
  get_property(includes DIRECTORY PROPERTY TEST_INCLUDE_FILES)
  list(REMOVE_ITEM includes "${include_file}")
  list(APPEND includes "${include_file}")
  set_property(DIRECTORY PROPERTY TEST_INCLUDE_FILES "${includes}")
endfunction()
