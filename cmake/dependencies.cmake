# Header-only dependencies: Debian's packages, or FUSELSTM_DEPS_DIR on a machine without a package
# registry (tools/pack_gpu_deps.sh fills it). Defines the package's usual target when the package
# itself is not found.
function(fuselstm_header_dependency package target header deps_subdir)
  if(TARGET ${target})
    return()
  endif()
  find_package(${package} CONFIG QUIET)
  if(NOT ${package}_FOUND)
    find_path(FUSELSTM_${package}_INCLUDE_DIR ${header}
              HINTS ${FUSELSTM_DEPS_DIR}/${deps_subdir}/include REQUIRED)
    add_library(${target} INTERFACE IMPORTED GLOBAL)
    target_include_directories(${target} INTERFACE ${FUSELSTM_${package}_INCLUDE_DIR})
  endif()
endfunction()
