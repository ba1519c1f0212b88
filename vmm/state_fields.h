// Device States as canonical bytes: each field in declaration order, no
// padding, bools as 0/1. Machine checkpoints keep States this way, so two
// equal States are equal bytes and digest alike.
//
// Why not the struct's own bytes: padding is indeterminate, and any copy
// may carry garbage in it; GCC 12's __builtin_clear_padding leaves tail
// padding alone and, inside a std::array of structs, zeroes real fields.
// Boost.PFR would list the fields for us, but Debian 12's Boost (1.74)
// predates it, so the few lines of aggregate reflection it rests on are
// here: count the fields by aggregate-initializing from convertible
// placeholders, then reach them with a structured binding.
//
// A State is an aggregate of integers, enums, bools, std::arrays,
// std::vectors (length first) and nested aggregates (up to kMaxFields
// fields each); anything else, a std::optional included, does not compile.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <span>
#include <stdexcept>
#include <type_traits>
#include <vector>

namespace rrvm::state_fields {

constexpr size_t kMaxFields = 24;

namespace detail {

// Converts to anything: a stand-in for one initializer (never evaluated).
struct Any {
  template <class U>
  operator U() const;
};

template <class T, class... Fields>
constexpr size_t count() {
  if constexpr (sizeof...(Fields) <= kMaxFields && requires { T{Fields{}..., Any{}}; }) {
    return count<T, Fields..., Any>();
  } else {
    return sizeof...(Fields);
  }
}

template <class T>
struct IsStdArray : std::false_type {};
template <class E, size_t N>
struct IsStdArray<std::array<E, N>> : std::true_type {};
template <class T>
struct IsVector : std::false_type {};
template <class E, class A>
struct IsVector<std::vector<E, A>> : std::true_type {};

}  // namespace detail

// Calls fn(field) for every field of aggregate `v`, in declaration order.
template <class T, class Fn>
void for_each_field(T& v, Fn&& fn) {
  constexpr size_t n = detail::count<std::remove_const_t<T>>();
  static_assert(n >= 1 && n <= kMaxFields, "not an aggregate of at most kMaxFields fields");
  // clang-format off
  if constexpr (n == 1) { auto& [a] = v; fn(a); }
  else if constexpr (n == 2) { auto& [a, b] = v; fn(a); fn(b); }
  else if constexpr (n == 3) { auto& [a, b, c] = v; fn(a); fn(b); fn(c); }
  else if constexpr (n == 4) { auto& [a, b, c, d] = v; fn(a); fn(b); fn(c); fn(d); }
  else if constexpr (n == 5) { auto& [a, b, c, d, e] = v; fn(a); fn(b); fn(c); fn(d); fn(e); }
  else if constexpr (n == 6) { auto& [a, b, c, d, e, f] = v; fn(a); fn(b); fn(c); fn(d); fn(e); fn(f); }
  else if constexpr (n == 7) { auto& [a, b, c, d, e, f, g] = v; fn(a); fn(b); fn(c); fn(d); fn(e); fn(f); fn(g); }
  else if constexpr (n == 8) { auto& [a, b, c, d, e, f, g, h] = v; fn(a); fn(b); fn(c); fn(d); fn(e); fn(f); fn(g); fn(h); }
  else if constexpr (n == 9) { auto& [a, b, c, d, e, f, g, h, i] = v; fn(a); fn(b); fn(c); fn(d); fn(e); fn(f); fn(g); fn(h); fn(i); }
  else if constexpr (n == 10) { auto& [a, b, c, d, e, f, g, h, i, j] = v; fn(a); fn(b); fn(c); fn(d); fn(e); fn(f); fn(g); fn(h); fn(i); fn(j); }
  else if constexpr (n == 11) { auto& [a, b, c, d, e, f, g, h, i, j, k] = v; fn(a); fn(b); fn(c); fn(d); fn(e); fn(f); fn(g); fn(h); fn(i); fn(j); fn(k); }
  else if constexpr (n == 12) { auto& [a, b, c, d, e, f, g, h, i, j, k, l] = v; fn(a); fn(b); fn(c); fn(d); fn(e); fn(f); fn(g); fn(h); fn(i); fn(j); fn(k); fn(l); }
  else if constexpr (n == 13) { auto& [a, b, c, d, e, f, g, h, i, j, k, l, m] = v; fn(a); fn(b); fn(c); fn(d); fn(e); fn(f); fn(g); fn(h); fn(i); fn(j); fn(k); fn(l); fn(m); }
  else if constexpr (n == 14) { auto& [a, b, c, d, e, f, g, h, i, j, k, l, m, o] = v; fn(a); fn(b); fn(c); fn(d); fn(e); fn(f); fn(g); fn(h); fn(i); fn(j); fn(k); fn(l); fn(m); fn(o); }
  else if constexpr (n == 15) { auto& [a, b, c, d, e, f, g, h, i, j, k, l, m, o, p] = v; fn(a); fn(b); fn(c); fn(d); fn(e); fn(f); fn(g); fn(h); fn(i); fn(j); fn(k); fn(l); fn(m); fn(o); fn(p); }
  else if constexpr (n == 16) { auto& [a, b, c, d, e, f, g, h, i, j, k, l, m, o, p, q] = v; fn(a); fn(b); fn(c); fn(d); fn(e); fn(f); fn(g); fn(h); fn(i); fn(j); fn(k); fn(l); fn(m); fn(o); fn(p); fn(q); }
  else if constexpr (n == 17) { auto& [a, b, c, d, e, f, g, h, i, j, k, l, m, o, p, q, r] = v; fn(a); fn(b); fn(c); fn(d); fn(e); fn(f); fn(g); fn(h); fn(i); fn(j); fn(k); fn(l); fn(m); fn(o); fn(p); fn(q); fn(r); }
  else if constexpr (n == 18) { auto& [a, b, c, d, e, f, g, h, i, j, k, l, m, o, p, q, r, s] = v; fn(a); fn(b); fn(c); fn(d); fn(e); fn(f); fn(g); fn(h); fn(i); fn(j); fn(k); fn(l); fn(m); fn(o); fn(p); fn(q); fn(r); fn(s); }
  else if constexpr (n == 19) { auto& [a, b, c, d, e, f, g, h, i, j, k, l, m, o, p, q, r, s, t] = v; fn(a); fn(b); fn(c); fn(d); fn(e); fn(f); fn(g); fn(h); fn(i); fn(j); fn(k); fn(l); fn(m); fn(o); fn(p); fn(q); fn(r); fn(s); fn(t); }
  else if constexpr (n == 20) { auto& [a, b, c, d, e, f, g, h, i, j, k, l, m, o, p, q, r, s, t, u] = v; fn(a); fn(b); fn(c); fn(d); fn(e); fn(f); fn(g); fn(h); fn(i); fn(j); fn(k); fn(l); fn(m); fn(o); fn(p); fn(q); fn(r); fn(s); fn(t); fn(u); }
  else if constexpr (n == 21) { auto& [a, b, c, d, e, f, g, h, i, j, k, l, m, o, p, q, r, s, t, u, w] = v; fn(a); fn(b); fn(c); fn(d); fn(e); fn(f); fn(g); fn(h); fn(i); fn(j); fn(k); fn(l); fn(m); fn(o); fn(p); fn(q); fn(r); fn(s); fn(t); fn(u); fn(w); }
  else if constexpr (n == 22) { auto& [a, b, c, d, e, f, g, h, i, j, k, l, m, o, p, q, r, s, t, u, w, x] = v; fn(a); fn(b); fn(c); fn(d); fn(e); fn(f); fn(g); fn(h); fn(i); fn(j); fn(k); fn(l); fn(m); fn(o); fn(p); fn(q); fn(r); fn(s); fn(t); fn(u); fn(w); fn(x); }
  else if constexpr (n == 23) { auto& [a, b, c, d, e, f, g, h, i, j, k, l, m, o, p, q, r, s, t, u, w, x, y] = v; fn(a); fn(b); fn(c); fn(d); fn(e); fn(f); fn(g); fn(h); fn(i); fn(j); fn(k); fn(l); fn(m); fn(o); fn(p); fn(q); fn(r); fn(s); fn(t); fn(u); fn(w); fn(x); fn(y); }
  else { auto& [a, b, c, d, e, f, g, h, i, j, k, l, m, o, p, q, r, s, t, u, w, x, y, z] = v; fn(a); fn(b); fn(c); fn(d); fn(e); fn(f); fn(g); fn(h); fn(i); fn(j); fn(k); fn(l); fn(m); fn(o); fn(p); fn(q); fn(r); fn(s); fn(t); fn(u); fn(w); fn(x); fn(y); fn(z); }
  // clang-format on
}

// Appends the canonical bytes of `v`.
template <class T>
void encode(const T& v, std::vector<uint8_t>& out) {
  if constexpr (std::is_same_v<T, bool>) {
    out.push_back(v ? 1 : 0);
  } else if constexpr (std::is_integral_v<T> || std::is_enum_v<T>) {
    const auto* p = reinterpret_cast<const uint8_t*>(&v);
    out.insert(out.end(), p, p + sizeof v);
  } else if constexpr (detail::IsStdArray<T>::value) {
    for (const auto& e : v) encode(e, out);
  } else if constexpr (detail::IsVector<T>::value) {
    encode(uint64_t{v.size()}, out);
    for (const auto& e : v) encode(e, out);
  } else {
    static_assert(std::is_aggregate_v<T>, "a State field must be plain data");
    for_each_field(v, [&](const auto& field) { encode(field, out); });
  }
}

// Reads back what encode() wrote; throws std::invalid_argument when `in`
// runs short.
template <class T>
void decode(std::span<const uint8_t>& in, T& v) {
  if constexpr (std::is_same_v<T, bool>) {
    if (in.empty()) throw std::invalid_argument("device state too short");
    v = in[0] != 0;
    in = in.subspan(1);
  } else if constexpr (std::is_integral_v<T> || std::is_enum_v<T>) {
    if (in.size() < sizeof v) throw std::invalid_argument("device state too short");
    std::memcpy(&v, in.data(), sizeof v);
    in = in.subspan(sizeof v);
  } else if constexpr (detail::IsStdArray<T>::value) {
    for (auto& e : v) decode(in, e);
  } else if constexpr (detail::IsVector<T>::value) {
    uint64_t n = 0;
    decode(in, n);
    if (n > in.size()) throw std::invalid_argument("device state too short");  // >= 1 byte each
    v.resize(n);
    for (auto& e : v) decode(in, e);
  } else {
    static_assert(std::is_aggregate_v<T>, "a State field must be plain data");
    for_each_field(v, [&](auto& field) { decode(in, field); });
  }
}

}  // namespace rrvm::state_fields
