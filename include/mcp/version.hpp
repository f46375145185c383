// SPDX-License-Identifier: MIT
#pragma once
/// @file version.hpp
/// The SDK's own version.

namespace mcp {
inline constexpr int version_major = 0;                 ///< major
inline constexpr int version_minor = 1;                 ///< minor
inline constexpr int version_patch = 0;                 ///< patch
inline constexpr const char* version_string = "0.1.0";  ///< "major.minor.patch"
}  // namespace mcp
