// Audio-thread checks: every operator new/new[] and every blocking pthread lock (mutex lock,
// rwlock, condition wait) made by code in this module while a processBlock() is on the stack of
// the same thread is counted. processBlock() must keep both counts at zero; tests read them from
// the plugin state ("diagnostics").
#pragma once
#include <cstdint>

namespace topline::rt
{
/** Marks the current thread as the audio thread while alive (nests). */
struct AudioThreadScope
{
    AudioThreadScope() noexcept;
    ~AudioThreadScope() noexcept;
    AudioThreadScope (const AudioThreadScope&) = delete;
    AudioThreadScope& operator= (const AudioThreadScope&) = delete;
};

/** True when the counter sees an allocation made inside an AudioThreadScope (checked once,
    not counted in audioThreadAllocations()): the check is armed, a zero count means something. */
bool selfTest() noexcept;

/** Allocations made on an audio thread since the module was loaded (all instances). */
std::uint64_t audioThreadAllocations() noexcept;

/** Blocking locks taken on an audio thread since the module was loaded (all instances). */
std::uint64_t audioThreadLocks() noexcept;
} // namespace topline::rt
