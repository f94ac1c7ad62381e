// Names and derived properties of a connection as later stages and alerts report them.
#include "flow/connection.h"

namespace rcptwatch::flow {

std::string_view to_string(CaptureQuality q) {
  switch (q) {
    case CaptureQuality::Complete:
      return "complete";
    case CaptureQuality::Midstream:
      return "midstream";
    case CaptureQuality::OneSided:
      return "one_sided";
  }
  return "unknown";
}

CaptureQuality ConnectionInfo::quality() const {
  if (!syn_seen) return CaptureQuality::Midstream;
  return server_data_seen ? CaptureQuality::Complete : CaptureQuality::OneSided;
}

}  // namespace rcptwatch::flow
