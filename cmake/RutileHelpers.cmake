# Helpers shared by every CMakeLists.txt in the tree.

set(RUTILE_WARNINGS -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers)
if(RUTILE_WERROR)
  list(APPEND RUTILE_WARNINGS -Werror)
endif()

set(RUTILE_SAN_FLAGS "")
if(RUTILE_SANITIZE)
  string(REPLACE ";" "," _san "${RUTILE_SANITIZE}")
  set(RUTILE_SAN_FLAGS -fsanitize=${_san} -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_compile_options(${RUTILE_SAN_FLAGS})
  add_link_options(${RUTILE_SAN_FLAGS})
endif()

set(RUTILE_ALL_LIBRARIES "" CACHE INTERNAL "")

# rutile_library(NAME SRCS a.cc b.cc DEPS rutile_util leveldb::leveldb)
# Declares the layer library rutile_NAME (alias rutile::NAME). DEPS are the layers and
# third-party targets DESIGN.md section 2 allows this layer to use.
function(rutile_library name)
  cmake_parse_arguments(ARG "" "" "SRCS;DEPS" ${ARGN})
  set(target rutile_${name})
  add_library(${target} STATIC ${ARG_SRCS})
  add_library(rutile::${name} ALIAS ${target})
  target_include_directories(${target} PUBLIC
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/lib>
    $<BUILD_INTERFACE:${PROJECT_BINARY_DIR}/lib>
    $<INSTALL_INTERFACE:include>)
  target_link_libraries(${target} PUBLIC ${ARG_DEPS})
  target_compile_options(${target} PRIVATE ${RUTILE_WARNINGS})
  if(RUTILE_FAILPOINTS)
    target_compile_definitions(${target} PUBLIC RUTILE_FAILPOINTS_ENABLED=1)
  endif()
  set_target_properties(${target} PROPERTIES EXPORT_NAME ${name} OUTPUT_NAME rutile_${name})
  set(RUTILE_ALL_LIBRARIES ${RUTILE_ALL_LIBRARIES} ${target} CACHE INTERNAL "")
endfunction()

# rutile_test(NAME SRCS a_test.cc DEPS rutile_util LABELS fast [TIMEOUT 300] [SHARDS n])
# A GoogleTest binary registered with CTest; LABELS defaults to fast. With SHARDS n > 1 the
# binary is registered as n CTest entries NAME_shard0 .. NAME_shard<n-1>, each running a
# share of its tests (GoogleTest's GTEST_TOTAL_SHARDS / GTEST_SHARD_INDEX), so that
# `ctest -j` spreads a long binary over cores; `ctest -R NAME` still runs them all.
function(rutile_test name)
  cmake_parse_arguments(ARG "" "TIMEOUT;SHARDS" "SRCS;DEPS;LABELS;ARGS" ${ARGN})
  add_executable(${name} ${ARG_SRCS})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gmock GTest::gtest_main)
  target_compile_options(${name} PRIVATE ${RUTILE_WARNINGS})
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/tests)
  if(NOT ARG_LABELS)
    set(ARG_LABELS fast)
  endif()
  set(_env "RUTILE_SOURCE_DIR=${PROJECT_SOURCE_DIR};RUTILE_SHARED_DIR=${PROJECT_SOURCE_DIR}/../shared")
  set(_ctests "")
  if(ARG_SHARDS AND ARG_SHARDS GREATER 1)
    math(EXPR _last "${ARG_SHARDS} - 1")
    foreach(_i RANGE ${_last})
      list(APPEND _ctests ${name}_shard${_i})
      add_test(NAME ${name}_shard${_i} COMMAND ${name} ${ARG_ARGS})
      set_tests_properties(${name}_shard${_i} PROPERTIES
        ENVIRONMENT "${_env};GTEST_TOTAL_SHARDS=${ARG_SHARDS};GTEST_SHARD_INDEX=${_i}")
    endforeach()
  else()
    set(_ctests ${name})
    add_test(NAME ${name} COMMAND ${name} ${ARG_ARGS})
    set_tests_properties(${name} PROPERTIES ENVIRONMENT "${_env}")
  endif()
  set_tests_properties(${_ctests} PROPERTIES LABELS "${ARG_LABELS}")
  if(ARG_TIMEOUT)
    set_tests_properties(${_ctests} PROPERTIES TIMEOUT ${ARG_TIMEOUT})
  endif()
endfunction()

# rutile_bench(NAME SRCS a_bench.cc DEPS ...)
function(rutile_bench name)
  cmake_parse_arguments(ARG "" "" "SRCS;DEPS" ${ARGN})
  add_executable(${name} ${ARG_SRCS})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} benchmark::benchmark)
  target_compile_options(${name} PRIVATE ${RUTILE_WARNINGS})
endfunction()

# rutile_subdirectories(): adds every direct subdirectory that has a CMakeLists.txt, in
# the order given, so layers can land independently.
macro(rutile_add_if_present)
  foreach(_d ${ARGN})
    if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/${_d}/CMakeLists.txt)
      add_subdirectory(${_d})
    endif()
  endforeach()
endmacro()

# rutile_glob_tests(PREFIX DEPS ... [SHARDS file=n ...]): one test binary per *_test.cc in
# the current source directory, named PREFIX_<file>, labelled `slow` when the file name ends
# in _slow_test.cc and `fast` otherwise. SHARDS txn_sim_test=6 registers that file's binary
# as 6 CTest entries (rutile_test's SHARDS).
function(rutile_glob_tests prefix)
  cmake_parse_arguments(ARG "" "" "DEPS;EXTRA_SRCS;SHARDS" ${ARGN})
  file(GLOB _tests CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*_test.cc)
  foreach(src ${_tests})
    get_filename_component(n ${src} NAME_WE)
    if(n MATCHES "_slow_test$")
      set(_label slow)
    else()
      set(_label fast)
    endif()
    set(_shards 1)
    foreach(_s ${ARG_SHARDS})
      if(_s MATCHES "^${n}=([0-9]+)$")
        set(_shards ${CMAKE_MATCH_1})
      endif()
    endforeach()
    rutile_test(${prefix}_${n} SRCS ${src} ${ARG_EXTRA_SRCS} DEPS ${ARG_DEPS} LABELS ${_label}
      SHARDS ${_shards})
  endforeach()
endfunction()
