// Replaces the global allocation functions for this module only: the module is linked with
// -Bsymbolic-functions, so its own calls bind to these while the host and other plugins (which
// load it RTLD_LOCAL) keep theirs. They forward to malloc/free like the default ones, so memory may
// cross the module boundary either way; they only count what is allocated on an audio thread.
#include "RtCheck.h"

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <new>

#include <dlfcn.h>
#include <pthread.h>

namespace
{
thread_local int audioDepth = 0;
std::atomic<std::uint64_t> audioAllocs { 0 };
std::atomic<std::uint64_t> audioLocks { 0 };

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
std::atomic<std::uint64_t> selfTestAllocs { 0 }, selfTestLocks { 0 };
int* volatile selfTestSink = nullptr;
} // namespace

bool selfTest() noexcept
{
    static const bool armed = [] {
        const auto allocsBefore = audioAllocs.load(), locksBefore = audioLocks.load();
        static std::mutex m;
        {
            AudioThreadScope scope;
            selfTestSink = new (std::nothrow) int (1); // volatile sink: the pair cannot be elided
            m.lock();
            m.unlock();
        }
        delete selfTestSink;
        const auto allocs = audioAllocs.load() - allocsBefore, locks = audioLocks.load() - locksBefore;
        selfTestAllocs.fetch_add (allocs);
        selfTestLocks.fetch_add (locks);
        return allocs > 0 && locks > 0;
    }();
    return armed;
}

std::uint64_t audioThreadLocks() noexcept
{
    selfTest();
    return audioLocks.load (std::memory_order_relaxed) - selfTestLocks.load();
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

// Blocking pthread calls made from this module (std::mutex, juce::CriticalSection, ...) come here
// (-Bsymbolic-functions) and go on to the C library's. The real functions are looked up without
// a static-local guard (which could itself lock); pthread_cond_wait by its current version (a
// plain dlsym may return the 2.2.5 compatibility one).
namespace
{
template <typename Fn>
Fn real (std::atomic<void*>& slot, const char* name, const char* version = nullptr) noexcept
{
    void* p = slot.load (std::memory_order_acquire);
    if (p == nullptr)
    {
        p = version != nullptr ? dlvsym (RTLD_NEXT, name, version) : nullptr;
        if (p == nullptr)
            p = dlsym (RTLD_NEXT, name);
        slot.store (p, std::memory_order_release);
    }
    return reinterpret_cast<Fn> (p);
}

std::atomic<void*> realMutexLock { nullptr }, realRdlock { nullptr }, realWrlock { nullptr }, realCondWait { nullptr };

inline void noteLock() noexcept
{
    if (audioDepth > 0)
        audioLocks.fetch_add (1, std::memory_order_relaxed);
}
} // namespace

extern "C"
{
int pthread_mutex_lock (pthread_mutex_t* m)
{
    noteLock();
    return real<int (*) (pthread_mutex_t*)> (realMutexLock, "pthread_mutex_lock") (m);
}

int pthread_rwlock_rdlock (pthread_rwlock_t* l)
{
    noteLock();
    return real<int (*) (pthread_rwlock_t*)> (realRdlock, "pthread_rwlock_rdlock") (l);
}

int pthread_rwlock_wrlock (pthread_rwlock_t* l)
{
    noteLock();
    return real<int (*) (pthread_rwlock_t*)> (realWrlock, "pthread_rwlock_wrlock") (l);
}

int pthread_cond_wait (pthread_cond_t* c, pthread_mutex_t* m)
{
    noteLock();
    return real<int (*) (pthread_cond_t*, pthread_mutex_t*)> (realCondWait, "pthread_cond_wait", "GLIBC_2.3.2") (c, m);
}
}
