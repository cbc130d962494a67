// AddonData: per-environment state of the addon (no statics: the addon loads in worker
// threads and several Node environments at once).
#ifndef HASHLOG_NATIVE_BINDING_ADDON_DATA_H_
#define HASHLOG_NATIVE_BINDING_ADDON_DATA_H_

#include <napi.h>

#include <unordered_set>

namespace hashlog {

class StoreWrap;

struct AddonData {
  Napi::FunctionReference store_constructor;
  Napi::FunctionReference error_class;  // HashlogError, registered by lib/binding.ts
  // Stores open in this environment, closed by the cleanup hook if the environment exits
  // (a worker thread ending, process exit) without closing them.
  std::unordered_set<StoreWrap*> open_stores;
};

}  // namespace hashlog

#endif  // HASHLOG_NATIVE_BINDING_ADDON_DATA_H_
