/* A stand-in for Windows' bcryptprimitives.dll, which Wine 8 (Debian bookworm) does not ship.
 * Rust's standard library asks it for random bytes (ProcessPrng) at start-up; without it every
 * Rust program under that Wine exits with code 53 before main. ProcessPrng here is the system
 * RNG behind RtlGenRandom (advapi32's SystemFunction036), which Wine implements. */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    while (length > 0) {
        ULONG chunk = length > 0x7fffffff ? 0x7fffffff : (ULONG)length;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}
