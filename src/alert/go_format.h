// Number formatting as Go's fmt and strconv write it, internal to the alert module, so that
// annotations and API values read exactly as Prometheus renders them.
// Thread-safe; pure functions.
#pragma once

#include <string>

namespace shelfwatch::alert {

// fmt's %v of a float64 (strconv 'g', shortest): "1", "0.25", "123456", "1.234567e+06", "+Inf", "NaN".
std::string GoFormatShortest(double v);
// strconv.FormatFloat(v, 'e', -1, 64): "1e+00", "1.25e-03", "+Inf" (Prometheus' alert "value").
std::string GoFormatExponent(double v);
// fmt's %.4g (what Prometheus' humanize* functions print): "1.235", "1e+04", "+Inf".
std::string GoFormatG4(double v);

}  // namespace shelfwatch::alert
