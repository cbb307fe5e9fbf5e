// Replaces the global allocation functions for this module only: the module is linked with
// -Bsymbolic-functions, so its own calls bind to these while the host and other plugins (which
// load it RTLD_LOCAL) keep theirs. They forward to malloc/free like the default ones, so memory may
// cross the module boundary either way; they only count what is allocated on an audio thread.
#include "RtCheck.h"

#include <atomic>
#include <cstdlib>
#include <new>

namespace
{
thread_local int audioDepth = 0;
std::atomic<std::uint64_t> audioAllocs { 0 };

inline void note() noexcept
{
    if (audioDepth > 0)
        audioAllocs.fetch_add (1, std::memory_order_relaxed);
}

void* allocate (std::size_t n) noexcept
{
    note();
    return std::malloc (n != 0 ? n : 1);
}

void* allocateAligned (std::size_t n, std::size_t align) noexcept
{
    note();
    void* p = nullptr;
    if (align < sizeof (void*))
        align = sizeof (void*);
    return posix_memalign (&p, align, n != 0 ? n : 1) == 0 ? p : nullptr;
}

void* orThrow (void* p)
{
    if (p == nullptr)
        throw std::bad_alloc();
    return p;
}
} // namespace

namespace topline::rt
{
AudioThreadScope::AudioThreadScope() noexcept { ++audioDepth; }
AudioThreadScope::~AudioThreadScope() noexcept { --audioDepth; }
namespace
{
std::atomic<std::uint64_t> selfTestAllocs { 0 };
int* volatile selfTestSink = nullptr;
} // namespace

bool selfTest() noexcept
{
    static const bool armed = [] {
        const auto before = audioAllocs.load();
        {
            AudioThreadScope scope;
            selfTestSink = new (std::nothrow) int (1); // volatile sink: the pair cannot be elided
        }
        delete selfTestSink;
        const auto counted = audioAllocs.load() - before;
        selfTestAllocs.fetch_add (counted);
        return counted > 0;
    }();
    return armed;
}

std::uint64_t audioThreadAllocations() noexcept
{
    selfTest();
    return audioAllocs.load (std::memory_order_relaxed) - selfTestAllocs.load();
}
} // namespace topline::rt


void* operator new (std::size_t n) { return orThrow (allocate (n)); }
void* operator new[] (std::size_t n) { return orThrow (allocate (n)); }
void* operator new (std::size_t n, const std::nothrow_t&) noexcept { return allocate (n); }
void* operator new[] (std::size_t n, const std::nothrow_t&) noexcept { return allocate (n); }
void* operator new (std::size_t n, std::align_val_t a) { return orThrow (allocateAligned (n, (std::size_t) a)); }
void* operator new[] (std::size_t n, std::align_val_t a) { return orThrow (allocateAligned (n, (std::size_t) a)); }
void* operator new (std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept { return allocateAligned (n, (std::size_t) a); }
void* operator new[] (std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept { return allocateAligned (n, (std::size_t) a); }
void operator delete (void* p) noexcept { std::free (p); }
void operator delete[] (void* p) noexcept { std::free (p); }
void operator delete (void* p, std::size_t) noexcept { std::free (p); }
void operator delete[] (void* p, std::size_t) noexcept { std::free (p); }
void operator delete (void* p, const std::nothrow_t&) noexcept { std::free (p); }
void operator delete[] (void* p, const std::nothrow_t&) noexcept { std::free (p); }
void operator delete (void* p, std::align_val_t) noexcept { std::free (p); }
void operator delete[] (void* p, std::align_val_t) noexcept { std::free (p); }
void operator delete (void* p, std::size_t, std::align_val_t) noexcept { std::free (p); }
void operator delete[] (void* p, std::size_t, std::align_val_t) noexcept { std::free (p); }
