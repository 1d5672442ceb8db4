// Test entry point: every allocation the library makes is filled with NaN bytes first, so an
// output element that no kernel or host op writes fails its comparison.

#include <gtest/gtest.h>

#include "runtime/memory.hpp"

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  fuselstm::detail::set_poison_new_memory(true);
  return RUN_ALL_TESTS();
}
