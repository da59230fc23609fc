// statewire/detail/describe_builder.hpp — the definitions of NativeDescription's
// describing methods (field, buffer, structure, varray, list, map, computed,
// unused, subsection, hooks) and their helpers: each compiles one C++ member into
// an Op of the program and a Field of the schema. Included at the end of
// describe.hpp, where the class and its documentation are; not on its own.
#pragma once

namespace statewire {

template <class T>
template <class M, class Own, class... Opts>
NativeDescription<T>& NativeDescription<T>::field(std::string_view name, M Own::*member,
                                                  Opts&&... opts) {
  M T::*mp = own(member);
  using C = detail::container<M>;
  using E = typename C::elem;
  using Inner = detail::container<E>;
  static_assert(!C::is_vec, "describe: a std::vector needs varray() with a count member");
  detail::Op op;
  Field f;
  if constexpr (C::is_array && Inner::is_array && !Inner::is_vec) {
    using E2 = typename Inner::elem;
    static_assert(detail::is_scalar_elem<E2>(),
                  "describe: a 2-D array given to field() must hold scalars");
    static_assert(sizeof(E) == sizeof(E2) * Inner::capacity, "describe: padded 2-D array");
    op.kind = detail::scalar_kind<E2>();
    op.offset = detail::offset_of(mp);
    op.stride = sizeof(E2);
    op.is_array = true;
    op.count = static_cast<std::uint32_t>(C::capacity * Inner::capacity);
    f.count = Count::fixed(op.count);
    f.size = sizeof(E2);
    finish(name, std::move(op), std::move(f), std::forward<Opts>(opts)...);
    return *this;
  } else if constexpr (std::is_pointer_v<E>) {
    using P = std::remove_cv_t<std::remove_pointer_t<E>>;
    static_assert(detail::is_scalar_elem<P>(),
                  "describe: field() takes pointers to scalars; a pointer to a struct goes "
                  "to structure()");
    op.kind = detail::scalar_kind<P>();
    op.pointer = true;
    op.offset = detail::offset_of(mp);
    op.stride = sizeof(E);
    op.buf_size = sizeof(P);
    fill_count<C>(op, f);
    f.size = sizeof(P);
    f.nullable = C::is_array;
    finish(name, std::move(op), std::move(f), std::forward<Opts>(opts)...);
    return *this;
  } else if constexpr (detail::is_scalar_elem<E>()) {
    static_assert(sizeof(E) == detail::elem_width(detail::scalar_kind<E>()),
                  "describe: scalar's host size differs from its wire width");
    op.kind = detail::scalar_kind<E>();
  } else {
    static_assert(std::is_same_v<E, std::string>,
                  "describe: field() takes scalars, std::string or fixed arrays of them; "
                  "use buffer(), structure() or varray()");
    op.kind = detail::ElemKind::string;
  }
  op.offset = detail::offset_of(mp);
  op.stride = sizeof(E);
  fill_count<C>(op, f);
  f.size = sizeof(E);
  finish(name, std::move(op), std::move(f), std::forward<Opts>(opts)...);
  return *this;
}

template <class T>
template <class M, class Own, class... Opts>
NativeDescription<T>& NativeDescription<T>::buffer(std::string_view name, M Own::*member,
                                                   Opts&&... opts) {
  M T::*mp = own(member);
  using C = detail::container<M>;
  static_assert(C::is_array && !C::is_vec && detail::is_byte_elem<typename C::elem>(),
                "describe: buffer() takes a fixed array of bytes");
  detail::Op op;
  Field f;
  op.kind = detail::ElemKind::buffer;
  op.offset = detail::offset_of(mp);
  op.stride = static_cast<std::uint32_t>(sizeof(M));
  op.buf_size = static_cast<std::uint32_t>(sizeof(M));
  f.size = sizeof(M);
  finish(name, std::move(op), std::move(f), std::forward<Opts>(opts)...);
  return *this;
}

template <class T>
template <class M, class Own, class S, class... Opts>
NativeDescription<T>& NativeDescription<T>::structure(std::string_view name, M Own::*member,
                                                      const NativeDescription<S>& d,
                                                      Opts&&... opts) {
  M T::*mp = own(member);
  using C = detail::container<M>;
  using E = typename C::elem;
  constexpr bool is_ptr = std::is_pointer_v<E>;
  static_assert(std::is_same_v<std::remove_cv_t<std::remove_pointer_t<E>>, S>,
                "describe: structure()'s description must describe the member's type");
  static_assert(!C::is_vec, "describe: a std::vector of structs needs struct_varray() or list()");
  detail::Op op;
  Field f;
  op.kind = detail::ElemKind::structure;
  op.offset = detail::offset_of(mp);
  op.stride = sizeof(E);
  if constexpr (is_ptr) {
    op.pointer = true;
    f.nullable = C::is_array;
    if (!d.program()->clone)
      detail::add_misuse(*p_, std::string(name) + ": a pointee must be copyable (a failed "
                                                  "load puts it back)");
  }
  op.nested = d.program();
  fill_count<C>(op, f);
  f.size = sizeof(S);
  f.nested = std::make_shared<const Description>(d.schema());
  if (d.program()->misuse) detail::add_misuse(*p_, d.program()->misuse->message);
  finish(name, std::move(op), std::move(f), std::forward<Opts>(opts)...);
  return *this;
}

template <class T>
template <class M, class Own, class N, class NOwn, class... Opts>
NativeDescription<T>& NativeDescription<T>::varray(std::string_view name, M Own::*member,
                                                   N NOwn::*count_member, std::uint32_t max,
                                                   Opts&&... opts) {
  M T::*mp = own(member);
  N T::*count = own(count_member);
  using C = detail::container<M>;
  using E = typename C::elem;
  static_assert(C::is_array, "describe: varray() takes an array or std::vector");
  detail::Op op;
  Field f;
  if constexpr (detail::is_scalar_elem<E>()) {
    op.kind = detail::scalar_kind<E>();
    f.size = sizeof(E);
  } else if constexpr (std::is_same_v<E, std::string>) {
    op.kind = detail::ElemKind::string;
    f.size = sizeof(E);
  } else {
    using B = detail::container<E>;
    static_assert(B::is_array && !B::is_vec && detail::is_byte_elem<typename B::elem>(),
                  "describe: varray() elements are scalars, strings or byte arrays; "
                  "for structs use struct_varray()");
    op.kind = detail::ElemKind::buffer;
    op.buf_size = static_cast<std::uint32_t>(sizeof(E));
    f.size = sizeof(E);
  }
  op.stride = sizeof(E);
  set_varray<C, N>(op, f, name, mp, count, max);
  finish(name, std::move(op), std::move(f), std::forward<Opts>(opts)...);
  return *this;
}

template <class T>
template <class M, class Own, class N, class NOwn>
NativeDescription<T>& NativeDescription<T>::varray(std::string_view name, M Own::*mp,
                                                   N NOwn::*count) {
  static_assert(!detail::container<M>::is_vec, "describe: a std::vector needs an explicit bound");
  return varray(name, mp, count, static_cast<std::uint32_t>(detail::container<M>::capacity));
}

template <class T>
template <class M, class Own, class N, class NOwn, class S, class... Opts>
NativeDescription<T>& NativeDescription<T>::struct_varray(std::string_view name, M Own::*member,
                                                          N NOwn::*count_member, std::uint32_t max,
                                                          const NativeDescription<S>& d,
                                                          Opts&&... opts) {
  M T::*mp = own(member);
  N T::*count = own(count_member);
  using C = detail::container<M>;
  static_assert(C::is_array && std::is_same_v<typename C::elem, S>,
                "describe: varray()'s description must describe the element type");
  detail::Op op;
  Field f;
  op.kind = detail::ElemKind::structure;
  op.stride = sizeof(S);
  op.nested = d.program();
  f.size = sizeof(S);
  f.nested = std::make_shared<const Description>(d.schema());
  if (d.program()->misuse) detail::add_misuse(*p_, d.program()->misuse->message);
  set_varray<C, N>(op, f, name, mp, count, max);
  finish(name, std::move(op), std::move(f), std::forward<Opts>(opts)...);
  return *this;
}

template <class T>
template <class M, class Own, class S, class... Opts>
NativeDescription<T>& NativeDescription<T>::list(std::string_view name, M Own::*member,
                                                 const NativeDescription<S>& d, Opts&&... opts) {
  M T::*mp = own(member);
  static_assert(detail::list_container<M>::value,
                "describe: list() takes a std::vector or std::list of structs");
  static_assert(std::is_same_v<typename detail::list_container<M>::elem, S>,
                "describe: list()'s description must describe the element type");
  detail::Op op;
  Field f;
  op.kind = detail::ElemKind::structure;
  op.offset = detail::offset_of(mp);
  op.stride = sizeof(S);
  op.nested = d.program();
  op.list = detail::list_ops<M>();
  f.size = sizeof(S);
  f.list = true;
  f.info = "qtailq";
  f.nested = std::make_shared<const Description>(d.schema());
  if (d.program()->misuse) detail::add_misuse(*p_, d.program()->misuse->message);
  finish(name, std::move(op), std::move(f), std::forward<Opts>(opts)...);
  return *this;
}

template <class T>
template <class M, class Own, class KD, class V, class... Opts>
NativeDescription<T>& NativeDescription<T>::map(std::string_view name, M Own::*member,
                                                const KD& key, const NativeDescription<V>& value,
                                                Opts&&... opts) {
  M T::*mp = own(member);
  static_assert(detail::map_container<M>::value, "describe: map() takes a std::map");
  static_assert(std::is_same_v<typename M::mapped_type, V>,
                "describe: map()'s value description must describe the mapped type");
  detail::Op op;
  Field f;
  if constexpr (std::is_same_v<KD, DirectKey>) {
    static_assert(std::is_integral_v<typename M::key_type> && sizeof(typename M::key_type) <= 8,
                  "describe: a direct key is an integer of at most 64 bits");
  } else {
    static_assert(std::is_same_v<KD, NativeDescription<typename M::key_type>>,
                  "describe: map()'s key is direct_key() or the key type's description");
    op.key = key.program();
    f.key = std::make_shared<const Description>(key.schema());
    if (key.program()->misuse) detail::add_misuse(*p_, key.program()->misuse->message);
  }
  op.kind = detail::ElemKind::structure;
  op.offset = detail::offset_of(mp);
  op.stride = sizeof(V);
  op.nested = value.program();
  op.map = detail::map_ops<M>();
  f.size = sizeof(V);
  f.gtree = true;
  f.info = "gtree";
  f.nested = std::make_shared<const Description>(value.schema());
  if (value.program()->misuse) detail::add_misuse(*p_, value.program()->misuse->message);
  finish(name, std::move(op), std::move(f), std::forward<Opts>(opts)...);
  return *this;
}

template <class T>
template <class Tmp, class Make, class Apply, class... Opts>
NativeDescription<T>& NativeDescription<T>::computed(std::string_view name,
                                                     const NativeDescription<Tmp>& d, Make make,
                                                     Apply apply, Opts&&... opts) {
  static_assert(std::is_invocable_r_v<Tmp, const Make&, const T&>,
                "describe: computed()'s first function takes (const T&) and returns the "
                "wire-only struct");
  static_assert(std::is_invocable_r_v<Result<void>, const Apply&, T&, const Tmp&>,
                "describe: computed()'s second function takes (T&, const Tmp&) and returns "
                "Result<void>");
  detail::Op op;
  Field f;
  op.kind = detail::ElemKind::structure;
  op.stride = sizeof(Tmp);
  op.nested = d.program();
  op.tmp = std::make_shared<const detail::Computed>(detail::Computed{
      [make = std::move(make)](const void* o) {
        return std::shared_ptr<void>(std::make_shared<Tmp>(make(*static_cast<const T*>(o))));
      },
      [apply = std::move(apply)](void* o, const void* t) {
        return apply(*static_cast<T*>(o), *static_cast<const Tmp*>(t));
      }});
  f.size = sizeof(Tmp);
  f.info = "tmp";
  f.nested = std::make_shared<const Description>(d.schema());
  if (d.program()->misuse) detail::add_misuse(*p_, d.program()->misuse->message);
  finish(name, std::move(op), std::move(f), std::forward<Opts>(opts)...);
  return *this;
}

template <class T>
template <class... Opts>
NativeDescription<T>& NativeDescription<T>::unused(std::uint32_t n, Opts&&... opts) {
  detail::Op op;
  Field f;
  op.kind = detail::ElemKind::unused;
  op.buf_size = n;
  f.size = n;
  finish("unused", std::move(op), std::move(f), std::forward<Opts>(opts)...);
  return *this;
}

template <class T>
template <class F>
NativeDescription<T>& NativeDescription<T>::subsection(const NativeDescription<T>& sub,
                                                       std::string needed_name, F needed) {
  if (sub.name().rfind(p_->name + "/", 0) != 0)
    detail::add_misuse(*p_, "subsection " + sub.name() + " does not start with " + p_->name + "/");
  if (sub.program()->misuse) detail::add_misuse(*p_, sub.program()->misuse->message);
  p_->plans.reset();
  p_->subs.push_back({sub.program(), [needed = std::move(needed)](const void* o) {
                        return static_cast<bool>(needed(*static_cast<const T*>(o)));
                      }});
  if (!p_->schema.subsections) p_->schema.subsections.emplace();
  p_->schema.subsections->push_back(Subsection{sub.schema(), std::move(needed_name)});
  return *this;
}

template <class T>
template <class F>
NativeDescription<T>& NativeDescription<T>::pre_save(F f) {
  static_assert(detail::is_hook<const T, F>(),
                "describe: pre_save takes a callable (const T&) or (const T&, uint32_t "
                "version) returning Result<void>");
  p_->plans.reset();
  p_->pre_save = detail::wrap_hook<const T>(std::move(f));
  return *this;
}

template <class T>
template <class F>
NativeDescription<T>& NativeDescription<T>::post_save(F f) {
  static_assert(detail::is_hook<const T, F>(),
                "describe: post_save takes a callable (const T&) or (const T&, uint32_t "
                "version) returning Result<void>");
  p_->plans.reset();
  p_->post_save = detail::wrap_hook<const T>(std::move(f));
  return *this;
}

template <class T>
template <class F>
NativeDescription<T>& NativeDescription<T>::pre_load(F f) {
  static_assert(detail::is_hook<T, F>(),
                "describe: pre_load takes a callable (T&) or (T&, uint32_t version) "
                "returning Result<void>");
  p_->plans.reset();
  p_->pre_load = detail::wrap_hook<T>(std::move(f));
  return *this;
}

template <class T>
template <class F>
NativeDescription<T>& NativeDescription<T>::post_load(F f) {
  static_assert(detail::is_hook<T, F>(),
                "describe: post_load takes a callable (T&) or (T&, uint32_t version) "
                "returning Result<void>");
  p_->plans.reset();
  p_->post_load = detail::wrap_hook<T>(std::move(f));
  return *this;
}

template <class T>
template <class M, class Own>
M T::*NativeDescription<T>::own(M Own::*mp) {
  static_assert(std::is_same_v<Own, T> || std::is_base_of_v<Own, T>,
                "describe: the member belongs neither to the described type nor to a base "
                "class of it");
  return static_cast<M T::*>(mp);
}

template <class T>
template <class C>
void NativeDescription<T>::fill_count(detail::Op& op, Field& f) {
  if constexpr (C::is_array) {
    op.is_array = true;
    op.count = static_cast<std::uint32_t>(C::capacity);
    f.count = Count::fixed(op.count);
  }
}

template <class T>
template <class C, class N, class M>
void NativeDescription<T>::set_varray(detail::Op& op, Field& f, std::string_view name, M T::*mp,
                                      N T::*count, std::uint32_t max) {
  static_assert(std::is_integral_v<N> && !std::is_same_v<N, bool>,
                "describe: a varray's count member must be an integer");
  op.is_array = true;
  op.varray = true;
  op.offset = detail::offset_of(mp);
  op.count_offset = detail::offset_of(count);
  op.count_kind = detail::scalar_kind<N>();
  op.max = max;
  if constexpr (C::is_vec) {
    op.vec = detail::vector_ops<M>();
  } else if (max > C::capacity) {
    detail::add_misuse(*p_, std::string(name) + ": bound above the array's capacity");
  }
  const Field* cf = detail::find_count_field(*p_, op.count_offset, op.count_kind);
  if (!cf) {
    detail::add_misuse(*p_, std::string(name) + ": count member is not an earlier field");
    f.count = Count::from("", max);
  } else {
    f.count = Count::from(cf->name, max);
  }
}

template <class T>
void NativeDescription<T>::apply(detail::Op& op, Field& f, Since s) {
  op.since = s.version;
  f.version_id = s.version;
  if (s.version > p_->version)
    detail::add_misuse(*p_, f.name + ": since a version above the description's");
}

template <class T>
template <class F>
void NativeDescription<T>::apply(detail::Op& op, Field& f, When<F> w) {
  op.test = static_cast<std::int32_t>(p_->tests.size());
  f.test = w.name;
  F pred = std::move(w.pred);
  p_->tests.push_back([pred = std::move(pred)](const void* o, std::uint32_t v) -> bool {
    const T& obj = *static_cast<const T*>(o);
    if constexpr (std::is_invocable_v<const F&, const T&, std::uint32_t>)
      return pred(obj, v);
    else
      return pred(obj);
  });
}

template <class T>
void NativeDescription<T>::apply(detail::Op& op, Field& f, MustEqual) {
  if (op.kind > detail::ElemKind::i64 || op.pointer || op.varray || op.vec) {
    detail::add_misuse(*p_, f.name + ": must_equal() takes an integer field");
    return;
  }
  op.equal = true;
  f.info += " equal";
}

template <class T>
void NativeDescription<T>::apply(detail::Op& op, Field& f, StructVersion v) {
  if (op.kind != detail::ElemKind::structure || op.list || op.tmp || !op.nested) {
    detail::add_misuse(*p_, f.name + ": struct_version() takes a nested struct field");
    return;
  }
  if (v.version > op.nested->version || v.version < op.nested->minimum)
    detail::add_misuse(*p_, f.name + ": struct_version() outside the nested description's range");
  op.struct_version = v.version;
  f.struct_version = v.version;
}

template <class T>
template <class... Opts>
void NativeDescription<T>::finish(std::string_view name, detail::Op op, Field f, Opts&&... opts) {
  f.name = std::string(name);
  f.kind = detail::elem_field_kind(op.kind);
  if (f.info.empty()) f.info = std::string(detail::elem_info(op.kind));
  (apply(op, f, std::forward<Opts>(opts)), ...);
  detail::add_op(*p_, std::move(op), std::move(f));
}

}  // namespace statewire
