// The random seed of FlowKeyHash; the rest of flow_key.h is inline (it runs per packet).
#include "common/flow_key.h"

#include <random>

namespace rcptwatch {

FlowKeyHash::FlowKeyHash()
    : FlowKeyHash((std::uint64_t{std::random_device{}()} << 32) ^ std::random_device{}()) {}

}  // namespace rcptwatch
