# Checks that compiled-out failpoints leave no trace in object code.
#   cmake -DNM=<nm> -DON_OBJ=<probe_on.o> -DOFF_OBJ=<probe_off.o> [-DLIB=<librutile_util.a>]
#         -P check_symbols.cmake
# ON_OBJ (macros enabled) must reference failpoint_internal symbols: this proves the check
# can see a leak. OFF_OBJ (macros disabled) must have no symbol mentioning a failpoint.
# LIB, given only when the whole build has RUTILE_FAILPOINTS=OFF, must define no
# failpoint_internal (registry) symbol either.

function(symbols out file)
  execute_process(COMMAND ${NM} -C ${file} OUTPUT_VARIABLE text RESULT_VARIABLE rc
                  ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "nm failed on ${file}: ${err}")
  endif()
  set(${out} "${text}" PARENT_SCOPE)
endfunction()

symbols(on_syms ${ON_OBJ})
if(NOT on_syms MATCHES "rutile::failpoint_internal::")
  message(FATAL_ERROR "positive control failed: ${ON_OBJ} has no failpoint_internal "
                      "reference, so this check cannot detect a leak:\n${on_syms}")
endif()

symbols(off_syms ${OFF_OBJ})
string(TOLOWER "${off_syms}" off_lower)
if(off_lower MATCHES "fail_?point")
  string(REGEX MATCHALL "[^\n]*[Ff]ail_?[Pp]oint[^\n]*" leaks "${off_syms}")
  message(FATAL_ERROR "compiled-out failpoints leaked symbols into ${OFF_OBJ}:\n${leaks}")
endif()

if(LIB)
  symbols(lib_syms ${LIB})
  if(lib_syms MATCHES "failpoint_internal")
    string(REGEX MATCHALL "[^\n]*failpoint_internal[^\n]*" leaks "${lib_syms}")
    message(FATAL_ERROR "RUTILE_FAILPOINTS=OFF but ${LIB} has registry symbols:\n${leaks}")
  endif()
endif()
message(STATUS "failpoint symbol check passed")
