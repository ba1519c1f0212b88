#include "trace/records.h"

namespace rrvm::trace {

namespace {

template <typename List>
std::vector<uint64_t> to_vector(List list) {
  std::vector<uint64_t> out;
  out.reserve(list.size());
  for (uint64_t v : list) out.push_back(v);
  return out;
}

void set_counts(capnp::List<uint64_t>::Builder out, const std::vector<uint64_t>& counts) {
  for (unsigned i = 0; i < out.size() && i < counts.size(); ++i) out.set(i, counts[i]);
}

void build_host(const HeaderInfo& h, schema::HostInfo::Builder host) {
  host.setKernel(h.host_kernel);
  host.setCpuModel(h.host_cpu);
  auto caps = host.initKvmCapabilities(static_cast<unsigned>(h.kvm_capabilities.size()));
  for (unsigned i = 0; i < caps.size(); ++i) caps.set(i, h.kvm_capabilities[i]);
}

void build_cpuid(const std::vector<CpuidLeaf>& leaves, schema::Header::Builder out) {
  auto cpuid = out.initCpuid(static_cast<unsigned>(leaves.size()));
  for (unsigned i = 0; i < cpuid.size(); ++i) {
    const CpuidLeaf& l = leaves[i];
    cpuid[i].setFunction(l.function);
    cpuid[i].setIndex(l.index);
    cpuid[i].setFlags(l.flags);
    cpuid[i].setEax(l.eax);
    cpuid[i].setEbx(l.ebx);
    cpuid[i].setEcx(l.ecx);
    cpuid[i].setEdx(l.edx);
  }
}

void build_probe(const std::vector<InstructionProbe>& probe, schema::Header::Builder out) {
  auto list = out.initHostProbe(static_cast<unsigned>(probe.size()));
  for (unsigned i = 0; i < list.size(); ++i) {
    list[i].setInstruction(probe[i].instruction);
    list[i].setFeature(probe[i].feature);
    list[i].setOutcome(static_cast<schema::ProbeOutcome>(probe[i].outcome));
    list[i].setVector(probe[i].vector);
  }
}

void build_texts(capnp::List<capnp::Text>::Builder out, const std::vector<std::string>& texts) {
  for (unsigned i = 0; i < out.size(); ++i) out.set(i, texts[i]);
}

void check_format(schema::Header::Reader in, uint64_t offset) {
  uint16_t major = in.getFormatMajor(), minor = in.getFormatMinor();
  uint16_t needs = in.getRequiredForwardCompat();
  std::string version = std::to_string(major) + "." + std::to_string(minor);
  if (major != kFormatMajor) {
    throw TraceError("trace format " + version + " is not readable by this rrvm (it reads " +
                         std::to_string(kFormatMajor) + ".x)",
                     offset);
  }
  if (needs > kReaderCompat) {
    throw TraceError("trace format " + version + " needs reader level " + std::to_string(needs) +
                         "; this rrvm has level " + std::to_string(kReaderCompat) +
                         " (use a newer rrvm)",
                     offset);
  }
}

}  // namespace

void build_header(const HeaderInfo& h, schema::Header::Builder out) {
  out.setFormatMajor(kFormatMajor);
  out.setFormatMinor(kFormatMinor);
  out.setRequiredForwardCompat(h.reads_modelled ? kModelledCompat : kValuesLoggedCompat);
  out.setRrvmVersion(h.rrvm_version);
  out.setCreatedUnixSeconds(h.created_unix_seconds);
  build_host(h, out.initHost());
  auto cfg = out.initConfig(static_cast<unsigned>(h.config.size()));
  for (unsigned i = 0; i < cfg.size(); ++i) {
    cfg[i].setKey(h.config[i].first);
    cfg[i].setValue(h.config[i].second);
  }
  build_cpuid(h.cpuid, out);
  auto imgs = out.initImages(static_cast<unsigned>(h.images.size()));
  for (unsigned i = 0; i < imgs.size(); ++i) {
    imgs[i].setRole(h.images[i].role);
    imgs[i].setName(h.images[i].name);
    imgs[i].setHash(h.images[i].hash);
    imgs[i].setSize(h.images[i].size);
  }
  out.setClockMode(h.clock_mode);
  out.setReadsModelled(h.reads_modelled);
  out.setDeviceModels(h.device_models);
  build_probe(h.host_probe, out);
  build_texts(out.initHostForcedCpuid(static_cast<unsigned>(h.host_forced_cpuid.size())),
              h.host_forced_cpuid);
}

HeaderInfo parse_header(schema::Header::Reader in, uint64_t offset) {
  check_format(in, offset);
  HeaderInfo h;
  h.format_major = in.getFormatMajor();
  h.format_minor = in.getFormatMinor();
  h.required_forward_compat = in.getRequiredForwardCompat();
  h.rrvm_version = in.getRrvmVersion();
  h.created_unix_seconds = in.getCreatedUnixSeconds();
  auto host = in.getHost();
  h.host_kernel = host.getKernel();
  h.host_cpu = host.getCpuModel();
  for (auto c : host.getKvmCapabilities()) h.kvm_capabilities.emplace_back(c.cStr());
  for (auto kv : in.getConfig()) h.config.emplace_back(kv.getKey().cStr(), kv.getValue().cStr());
  for (auto l : in.getCpuid()) {
    h.cpuid.push_back({l.getFunction(), l.getIndex(), l.getFlags(), l.getEax(), l.getEbx(),
                       l.getEcx(), l.getEdx()});
  }
  for (auto i : in.getImages()) {
    h.images.push_back({i.getRole(), i.getName(), i.getHash(), i.getSize()});
    if (!is_content_hash(h.images.back().hash))
      throw TraceError("image " + h.images.back().role + " has hash '" + h.images.back().hash +
                           "', not 32 or 16 lower-case hex digits",
                       offset);
  }
  h.clock_mode = in.getClockMode();
  h.reads_modelled = in.getReadsModelled();
  h.device_models = in.getDeviceModels();
  for (auto p : in.getHostProbe()) {
    h.host_probe.push_back({p.getInstruction(), p.getFeature(),
                            static_cast<ProbeOutcome>(p.getOutcome()), p.getVector()});
  }
  for (auto f : in.getHostForcedCpuid()) h.host_forced_cpuid.emplace_back(f.cStr());
  return h;
}

void build_footer(const FooterInfo& f, schema::Footer::Builder out) {
  out.setTotalEvents(f.total_events);
  set_counts(out.initCountsByKind(static_cast<unsigned>(f.counts_by_kind.size())),
             f.counts_by_kind);
  out.setExits(f.exits);
  out.setFinalRegDigest(f.final_reg_digest);
  out.setFinalMemDigest(f.final_mem_digest);
  out.setEndReason(f.end_reason);
  out.setGuestStatus(f.guest_status);
}

FooterInfo parse_footer(schema::Footer::Reader in) {
  FooterInfo f;
  f.total_events = in.getTotalEvents();
  f.counts_by_kind = to_vector(in.getCountsByKind());
  f.exits = in.getExits();
  f.final_reg_digest = in.getFinalRegDigest();
  f.final_mem_digest = in.getFinalMemDigest();
  f.end_reason = in.getEndReason();
  f.guest_status = in.getGuestStatus();
  return f;
}

void build_index(const IndexInfo& index, schema::Index::Builder out) {
  auto chunks = out.initChunks(static_cast<unsigned>(index.chunks.size()));
  for (unsigned i = 0; i < chunks.size(); ++i) {
    const ChunkRef& c = index.chunks[i];
    chunks[i].setFirstOrdinal(c.first_ordinal);
    chunks[i].setLastOrdinal(c.last_ordinal);
    chunks[i].setFileOffset(c.offset);
    chunks[i].setFrameBytes(c.frame_bytes);
    chunks[i].setCount(c.count);
  }
  set_counts(out.initCountsByKind(static_cast<unsigned>(index.counts_by_kind.size())),
             index.counts_by_kind);
  auto blobs = out.initBlobs(static_cast<unsigned>(index.blobs.size()));
  for (unsigned i = 0; i < blobs.size(); ++i) {
    const BlobRef& b = index.blobs[i];
    blobs[i].setHash(b.hash);
    blobs[i].setRole(b.role);
    blobs[i].setPart(b.part);
    blobs[i].setParts(b.parts);
    blobs[i].setSize(b.size);
    blobs[i].setFileOffset(b.offset);
    blobs[i].setFrameBytes(b.frame_bytes);
  }
}

IndexInfo parse_index(schema::Index::Reader in) {
  IndexInfo index;
  for (auto c : in.getChunks()) {
    index.chunks.push_back({c.getFirstOrdinal(), c.getLastOrdinal(), c.getFileOffset(),
                            c.getFrameBytes(), c.getCount()});
  }
  index.counts_by_kind = to_vector(in.getCountsByKind());
  for (auto b : in.getBlobs()) {
    index.blobs.push_back({b.getHash(), b.getRole(), b.getPart(), b.getParts(), b.getSize(),
                           b.getFileOffset(), b.getFrameBytes()});
  }
  return index;
}

BlobRef parse_blob(schema::Blob::Reader in, uint64_t offset, uint64_t frame_bytes) {
  return {in.getHash(), in.getRole(), in.getPart(), in.getParts(),
          in.getSize(), offset,       frame_bytes};
}

}  // namespace rrvm::trace
