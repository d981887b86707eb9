// Access to the parts of a Simulation that are not public API, for Rutile's own tests and
// for node-level code that needs the concrete simulated network (its filters, stats).

#ifndef RUTILE_NODE_SIMULATION_INTERNAL_H_
#define RUTILE_NODE_SIMULATION_INTERNAL_H_

#include "rutile/testing/simulation.h"
#include "transport/sim_transport.h"

namespace rutile::testing {

// The SimTransport behind sim.transport(); owned by `sim`.
transport::SimTransport* GetSimTransport(Simulation& sim);

}  // namespace rutile::testing

#endif  // RUTILE_NODE_SIMULATION_INTERNAL_H_
