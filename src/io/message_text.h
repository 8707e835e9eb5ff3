// Text from a file (tensor names, keys, dataset names) made fit for a one-line error message.
#pragma once

#include <string>
#include <string_view>

namespace shrink {

// `name` with control bytes (< 0x20, 0x7f) written as \xNN and cut after 80 bytes with
// "...(N bytes)", so that a hostile name can neither break the message's single line nor flood it.
std::string ForMessage(std::string_view name);

}  // namespace shrink
