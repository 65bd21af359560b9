// How far a transfer lands from measurements of the target GPU: every measured record predicted
// from the source records (core/transfer.hpp), errors per op class. With the target equal to the
// source GPU it compares two measurements of one GPU, which is how the noise floor is taken.
#pragma once
#include "core/op_bench.hpp"
#include "core/transfer.hpp"

#include <string>
#include <vector>

namespace moesim {

// Statistics of relative errors e = predicted / measured - 1.
struct ErrorStats {
  std::size_t n = 0;
  double median_abs = 0;
  double p90_abs = 0;    // nearest rank: the ceil(0.9 n)-th smallest |e|
  double worst_abs = 0;
  double median_signed = 0; // < 0: predicted too fast
};
ErrorStats error_stats(const std::vector<double>& errors);

struct ClassCheck {
  std::string op_class;
  std::size_t measured = 0;  // records of this class in the measured file
  std::size_t exact = 0;     // of them, predicted from a source record of the same shape
  ErrorStats transfer;       // the method, over the predicted records
  ErrorStats transfer_long;  // the method, over the records measured at long_op_seconds or more
  ErrorStats same_time;      // baseline: the source GPU's own time, over the exact shapes
  std::string worst;         // shape of the record furthest off (shape_key)
};

struct TransferCheck {
  std::vector<ClassCheck> classes; // sorted by class name
  std::size_t unpredicted = 0;     // measured records of a kind or class the source cannot predict
};

// Ops this long or longer are where a step's time goes; most records of a table are far shorter.
inline constexpr double long_op_seconds = 100e-6;

// exact_only: compare only shapes the source measured too (no nearest-neighbour predictions).
TransferCheck check_transfer(const Transfer& t, const OpBench& measured, bool exact_only);

} // namespace moesim
