// RamReceiver: checking what is staged (verify), applying it (commit),
// dropping it (discard).
#include <fmt/format.h>
#include <sys/mman.h>
#include <unistd.h>

#include <bit>

#include "memory/ram_receiver_impl.hpp"

namespace statewire {

using namespace detail;

Result<void> RamReceiver::Impl::check_complete() const {
  for (std::uint32_t r = 0; r < stages.size(); ++r) {
    const Stage& st = stages[r];
    const std::uint64_t have = st.data.count() + st.zero.count();
    if (have != st.data.pages()) {
      std::uint64_t first = 0;
      for (std::size_t w = 0; w < st.data.words().size(); ++w) {
        std::uint64_t missing = ~(st.data.words()[w] | st.zero.words()[w]);
        if (missing) {
          first = w * 64 + static_cast<std::uint64_t>(std::countr_zero(missing));
          break;
        }
      }
      Error e = make_error(Errc::truncated,
                           fmt::format("{} of {} pages never arrived intact (first: page {}{})",
                                       st.data.pages() - have, st.data.pages(), first,
                                       st.torn.test(first) ? ", which failed its CRC and was not sent again" : ""));
      e.section = regions[r].name;
      e.field_path = fmt::format("page[{}]", first);
      return fail(e);
    }
  }
  return {};
}

Result<std::uint64_t> RamReceiver::prepare_digest() {
  Impl& s = *impl_;
  if (s.broken)
    return fail(Errc::io_error, fmt::format("the memory transfer already failed: {}", s.broken->message));
  if (s.stages.empty()) return std::uint64_t{0};
  return s.fill_digest();
}

Result<void> RamReceiver::verify(std::span<const std::uint32_t> source_digest) {
  Impl& s = *impl_;
  if (s.broken) return fail(Errc::io_error, fmt::format("the memory transfer failed: {}", s.broken->message));
  if (s.committed) return fail(Errc::invalid_value, "memory was already committed");
  if (!s.final_seen)
    return fail(Errc::truncated, fmt::format("memory is incomplete: the final round has not arrived "
                                             "({} rounds received)", s.next_round));
  auto failed = [&](Error e) {
    s.broken = e;
    return fail(std::move(e));
  };
  if (auto r = s.check_complete(); !r) return failed(std::move(r.error()));
  if (source_digest.empty()) return {};
  if (source_digest.size() != s.regions.size())
    return failed(make_error(Errc::mismatch, fmt::format("the source sent {} memory digests for {} regions",
                                                         source_digest.size(), s.regions.size())));
  s.fill_digest();
  const std::vector<std::uint32_t> ours = s.digest.digests();
  for (std::size_t r = 0; r < ours.size(); ++r)
    if (ours[r] != source_digest[r]) {
      Error e = make_error(Errc::mismatch,
                           fmt::format("the staged pages differ from the source's memory (digest {:08x}, the "
                                       "source's {:08x}): a page was damaged on the way; nothing was applied",
                                       ours[r], source_digest[r]));
      e.section = s.regions[static_cast<std::uint32_t>(r)].name;
      return failed(std::move(e));
    }
  return {};
}

Result<void> RamReceiver::commit() {
  Impl& s = *impl_;
  if (s.broken) return fail(Errc::io_error, fmt::format("the memory transfer failed: {}", s.broken->message));
  if (s.committed) return fail(Errc::invalid_value, "memory was already committed");
  if (!s.final_seen)
    return fail(Errc::truncated, fmt::format("memory is incomplete: the final round has not arrived "
                                             "({} rounds received)", s.next_round));
  // Every page must have a verified copy before anything is written.
  SW_CHECK(s.check_complete());
  for (std::uint32_t r = 0; r < s.stages.size(); ++r) {
    Stage& st = s.stages[r];
    const MemoryRegion& reg = s.regions[r];
    const auto sys_page = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
    if (reg.replace_on_commit && reinterpret_cast<std::uintptr_t>(reg.base) % sys_page == 0 &&
        reg.size % sys_page == 0) {
      // The staging pages become the region's pages: no copy.
      void* moved = ::mremap(st.mem, st.size, st.size, MREMAP_MAYMOVE | MREMAP_FIXED, reg.base);
      if (moved != MAP_FAILED) {
        st.mem = nullptr;
        continue;
      }
      // Not movable after all (say, a locked mapping): copy below.
    }
    // Staging holds the final image (zero pages included), so one copy.
    std::memcpy(reg.base, st.mem, reg.size);
  }
  s.committed = true;
  s.release();
  return {};
}

void RamReceiver::discard() noexcept {
  impl_->release();
  if (!impl_->broken) impl_->broken = make_error(Errc::invalid_value, "the staged memory was discarded");
}

void RamReceiver::cancel() noexcept {
  impl_->cancelled.store(true);
  for (auto* c : impl_->channels) c->abort();
}

}  // namespace statewire
