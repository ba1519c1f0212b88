// A small ACPI Machine Language encoder: just the objects rrvm's DSDT needs,
// each a function returning the encoded bytes, so a definition block reads
// like its ASL:
//
//   aml::method("_PIC", 1, aml::store(aml::arg(0), aml::name_string("PICF")))
//     == Method(_PIC, 1) { Store(Arg0, PICF) }
//     == 14 0C 5F 50 49 43 01 70 68 50 49 43 46
//
// Reference: ACPI Specification 6.5, chapter 20 "ACPI Machine Language (AML)
// Specification": 20.2.2 Name Objects Encoding, 20.2.3 Data Objects
// Encoding, 20.2.4 Package Length Encoding, 20.2.5 Term Objects Encoding,
// 20.2.6 Miscellaneous Objects Encoding; 20.3 AML Byte Stream Byte Values.
// Resource descriptors: 6.4 "Resource Data Types for ACPI".
//
// Invalid input (a malformed name, an out-of-range Arg/Local index, a package
// too large to encode) throws std::invalid_argument or std::length_error
// naming the problem; nothing is silently truncated.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace rrvm::aml {

using Bytes = std::vector<uint8_t>;

// 20.3 byte values used here.
constexpr uint8_t kZeroOp = 0x00, kOneOp = 0x01, kNameOp = 0x08;
constexpr uint8_t kBytePrefix = 0x0A, kWordPrefix = 0x0B, kDWordPrefix = 0x0C;
constexpr uint8_t kStringPrefix = 0x0D, kQWordPrefix = 0x0E;
constexpr uint8_t kScopeOp = 0x10, kBufferOp = 0x11, kPackageOp = 0x12, kMethodOp = 0x14;
constexpr uint8_t kDualNamePrefix = 0x2E, kMultiNamePrefix = 0x2F;
constexpr uint8_t kExtOpPrefix = 0x5B, kDeviceOp = 0x82;  // DeviceOp = 5B 82
constexpr uint8_t kRootChar = 0x5C, kParentPrefixChar = 0x5E;
constexpr uint8_t kLocal0Op = 0x60, kArg0Op = 0x68, kStoreOp = 0x70, kReturnOp = 0xA4;

// Concatenation of encoded terms (a TermList).
Bytes cat(std::initializer_list<Bytes> parts);

// 20.2.4 PkgLength for a package whose contents after the PkgLength field
// are `content_len` bytes. The encoded value counts the PkgLength bytes
// themselves: 1 byte (bits 5:0) up to a total of 63, else a lead byte with
// the count of following bytes in bits 7:6 and the low nibble in bits 3:0,
// then 1-3 bytes of the higher bits. Totals above 2^28 - 1 throw.
Bytes pkg_length(size_t content_len);

// 20.2.2 NameSeg: 1-4 characters, lead [A-Z_], then [A-Z0-9_], padded with
// '_' to 4 ("_S5" -> "_S5_").
Bytes name_seg(std::string_view seg);
// 20.2.2 NameString: optional '\' (root) or '^'s (parent), then dot-separated
// segments: one plain, two with DualNamePrefix, more with MultiNamePrefix
// and a count. "\" alone is the root (RootChar NullName).
Bytes name_string(std::string_view path);

// 20.2.3 integers, smallest encoding: ZeroOp, OneOp, Byte/Word/DWord/QWord.
Bytes integer(uint64_t value);
// Always DWordPrefix + 4 bytes (as EISAID and _ADR values are written).
Bytes dword(uint32_t value);
// 20.2.3 String: StringPrefix, ASCII characters 0x01-0x7F, NullChar.
Bytes string(std::string_view text);
// ACPI 6.5, 19.6.35 EISAID(): "PNP0A03" -> the compressed 32-bit EISA ID
// 0x030AD041 (three 5-bit letters and four hex digits, big-endian packed,
// stored as a little-endian DWORD).
uint32_t eisa_id_value(std::string_view id);
Bytes eisa_id(std::string_view id);

// 20.2.6.1/20.2.6.2: ArgObj (Arg0-Arg6) and LocalObj (Local0-Local7).
Bytes arg(int n);
Bytes local(int n);

// 20.2.5.1 DefName := NameOp NameString DataRefObject.
Bytes name(std::string_view path, const Bytes& object);
// 20.2.5.1 DefScope := ScopeOp PkgLength NameString TermList.
Bytes scope(std::string_view path, const Bytes& terms);
// 20.2.5.2 DefDevice := DeviceOp PkgLength NameString TermList.
Bytes device(std::string_view path, const Bytes& terms);
// 20.2.5.2 DefMethod := MethodOp PkgLength NameString MethodFlags TermList;
// MethodFlags bits 2:0 ArgCount (0-7), bit 3 SerializeFlag, 7:4 SyncLevel 0.
Bytes method(std::string_view path, int arg_count, const Bytes& terms, bool serialized = false);
// 20.2.5.4 DefStore := StoreOp TermArg SuperName.
Bytes store(const Bytes& source, const Bytes& target);
// 20.2.5.3 DefReturn := ReturnOp ArgObject.
Bytes return_value(const Bytes& value);
// 20.2.5.4 DefPackage := PackageOp PkgLength NumElements PackageElementList;
// NumElements is one byte (at most 255 elements).
Bytes package(const std::vector<Bytes>& elements);
// 20.2.5.4 DefBuffer := BufferOp PkgLength BufferSize ByteList.
Bytes buffer(const Bytes& data);

// 6.4 resource descriptors, for _CRS ResourceTemplate()s.
namespace resource {
// 6.4.3.5.3 Word Address Space Descriptor, bus number range, producer.
Bytes word_bus_number(uint16_t min, uint16_t max);
// 6.4.3.5.3, I/O range produced by a bridge (ISA and non-ISA, EntireRange).
Bytes word_io(uint16_t min, uint16_t max);
// 6.4.2.5 I/O Port Descriptor, 16-bit decode.
Bytes io(uint16_t min, uint16_t max, uint8_t align, uint8_t length);
// 6.4.3.5.2 DWord Address Space Descriptor, memory range, producer,
// cacheable, read-write.
Bytes dword_memory(uint32_t min, uint32_t max);
// 6.4.2.9 End Tag (checksum 0: "treat as correct").
Bytes end_tag();
}  // namespace resource
// ResourceTemplate() { descriptors }: a Buffer of the descriptors and an End Tag.
Bytes resource_template(std::initializer_list<Bytes> descriptors);

}  // namespace rrvm::aml
