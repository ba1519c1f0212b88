// Every KVM ioctl number rrvm uses, written out and checked at compile time.
//
// Why not use the <linux/kvm.h> macros directly: with g++ 12, uapi structs that
// end in a flexible array member (kvm_cpuid2, kvm_msrs, kvm_msr_list) get a
// different sizeof in C++ than in C, and _IOWR() bakes sizeof into the number,
// so KVM_SET_CPUID2 comes out as 0x400cae90 instead of 0x4008ae90 and the
// kernel rejects it. We compute the numbers from the C layout instead and
// static_assert each one against the value the C compiler produces.
#pragma once

#include <linux/kvm.h>

#include <cstdint>

namespace rrvm::kvm {

// asm-generic/ioctl.h encoding: dir(2) size(14) type(8) nr(8).
constexpr unsigned long ioc(unsigned dir, unsigned nr, unsigned size) {
  return (static_cast<unsigned long>(dir) << 30) | (static_cast<unsigned long>(size) << 16) |
         (0xAEul << 8) | nr;
}
constexpr unsigned kNone = 0, kWrite = 1, kRead = 2;

// C layout of the flexible-array headers: two u32 (nent/nmsrs + padding).
constexpr unsigned kCpuid2HeaderSize = 8;
constexpr unsigned kMsrsHeaderSize = 8;

constexpr unsigned long kGetApiVersion = ioc(kNone, 0x00, 0);
constexpr unsigned long kCreateVm = ioc(kNone, 0x01, 0);
constexpr unsigned long kCheckExtension = ioc(kNone, 0x03, 0);
constexpr unsigned long kGetVcpuMmapSize = ioc(kNone, 0x04, 0);
constexpr unsigned long kGetSupportedCpuid = ioc(kRead | kWrite, 0x05, kCpuid2HeaderSize);
constexpr unsigned long kCreateVcpu = ioc(kNone, 0x41, 0);
constexpr unsigned long kGetDirtyLog = ioc(kWrite, 0x42, sizeof(kvm_dirty_log));
constexpr unsigned long kSetUserMemoryRegion =
    ioc(kWrite, 0x46, sizeof(kvm_userspace_memory_region));
constexpr unsigned long kSetTssAddr = ioc(kNone, 0x47, 0);
constexpr unsigned long kSetIdentityMapAddr = ioc(kWrite, 0x48, sizeof(uint64_t));
constexpr unsigned long kRun = ioc(kNone, 0x80, 0);
constexpr unsigned long kGetRegs = ioc(kRead, 0x81, sizeof(kvm_regs));
constexpr unsigned long kSetRegs = ioc(kWrite, 0x82, sizeof(kvm_regs));
constexpr unsigned long kGetSregs = ioc(kRead, 0x83, sizeof(kvm_sregs));
constexpr unsigned long kSetSregs = ioc(kWrite, 0x84, sizeof(kvm_sregs));
constexpr unsigned long kTranslate = ioc(kRead | kWrite, 0x85, sizeof(kvm_translation));
constexpr unsigned long kInterrupt = ioc(kWrite, 0x86, sizeof(kvm_interrupt));
constexpr unsigned long kGetMsrs = ioc(kRead | kWrite, 0x88, kMsrsHeaderSize);
constexpr unsigned long kSetMsrs = ioc(kWrite, 0x89, kMsrsHeaderSize);
constexpr unsigned long kSetCpuid2 = ioc(kWrite, 0x90, kCpuid2HeaderSize);
constexpr unsigned long kGetCpuid2 = ioc(kRead | kWrite, 0x91, kCpuid2HeaderSize);
constexpr unsigned long kSetGuestDebug = ioc(kWrite, 0x9b, sizeof(kvm_guest_debug));
constexpr unsigned long kGetVcpuEvents = ioc(kRead, 0x9f, sizeof(kvm_vcpu_events));
constexpr unsigned long kSetVcpuEvents = ioc(kWrite, 0xa0, sizeof(kvm_vcpu_events));
// Machine checkpoints (vmm/vcpu_state.h). kvm_xsave ends in a flexible
// array too: its C size is the 4096-byte region alone.
constexpr unsigned kXsaveSize = 4096;
constexpr unsigned long kGetFpu = ioc(kRead, 0x8c, sizeof(kvm_fpu));
constexpr unsigned long kSetFpu = ioc(kWrite, 0x8d, sizeof(kvm_fpu));
constexpr unsigned long kGetDebugRegs = ioc(kRead, 0xa1, sizeof(kvm_debugregs));
constexpr unsigned long kSetDebugRegs = ioc(kWrite, 0xa2, sizeof(kvm_debugregs));
constexpr unsigned long kGetXsave = ioc(kRead, 0xa4, kXsaveSize);
constexpr unsigned long kSetXsave = ioc(kWrite, 0xa5, kXsaveSize);
constexpr unsigned long kGetXcrs = ioc(kRead, 0xa6, sizeof(kvm_xcrs));
constexpr unsigned long kSetXcrs = ioc(kWrite, 0xa7, sizeof(kvm_xcrs));
constexpr unsigned long kEnableCap = ioc(kWrite, 0xa3, sizeof(kvm_enable_cap));
constexpr unsigned long kNmi = ioc(kNone, 0x9a, 0);
constexpr unsigned long kSetMsrFilter = ioc(kWrite, 0xc6, sizeof(kvm_msr_filter));

// Values as a C compiler computes them from <linux/kvm.h> on x86-64.
static_assert(kGetApiVersion == 0xae00);
static_assert(kCreateVm == 0xae01);
static_assert(kCheckExtension == 0xae03);
static_assert(kGetVcpuMmapSize == 0xae04);
static_assert(kGetSupportedCpuid == 0xc008ae05);
static_assert(kCreateVcpu == 0xae41);
static_assert(kGetDirtyLog == 0x4010ae42);
static_assert(kSetUserMemoryRegion == 0x4020ae46);
static_assert(kSetTssAddr == 0xae47);
static_assert(kSetIdentityMapAddr == 0x4008ae48);
static_assert(kRun == 0xae80);
static_assert(kGetRegs == 0x8090ae81);
static_assert(kSetRegs == 0x4090ae82);
static_assert(kGetSregs == 0x8138ae83);
static_assert(kSetSregs == 0x4138ae84);
static_assert(kTranslate == 0xc018ae85);
static_assert(kInterrupt == 0x4004ae86);
static_assert(kGetMsrs == 0xc008ae88);
static_assert(kSetMsrs == 0x4008ae89);
static_assert(kSetCpuid2 == 0x4008ae90);
static_assert(kGetCpuid2 == 0xc008ae91);
static_assert(kSetGuestDebug == 0x4048ae9b);
static_assert(kGetVcpuEvents == 0x8040ae9f);
static_assert(kSetVcpuEvents == 0x4040aea0);
static_assert(kGetFpu == 0x81a0ae8c);
static_assert(kSetFpu == 0x41a0ae8d);
static_assert(kGetDebugRegs == 0x8080aea1);
static_assert(kSetDebugRegs == 0x4080aea2);
static_assert(kGetXsave == 0x9000aea4);
static_assert(kSetXsave == 0x5000aea5);
static_assert(kGetXcrs == 0x8188aea6);
static_assert(kSetXcrs == 0x4188aea7);
static_assert(kEnableCap == 0x4068aea3);
static_assert(kNmi == 0xae9a);
static_assert(kSetMsrFilter == 0x4188aec6);

// The fixed-size structs must match the C layout too.
static_assert(sizeof(kvm_regs) == 144);
static_assert(sizeof(kvm_sregs) == 312);
static_assert(sizeof(kvm_guest_debug) == 72);
static_assert(sizeof(kvm_cpuid_entry2) == 40);
static_assert(sizeof(kvm_msr_entry) == 16);
static_assert(sizeof(kvm_fpu) == 416);
static_assert(sizeof(kvm_debugregs) == 128);
static_assert(sizeof(kvm_xcrs) == 392);
static_assert(sizeof(kvm_vcpu_events) == 64);
static_assert(sizeof(kvm_msr_filter) == 392);

}  // namespace rrvm::kvm
