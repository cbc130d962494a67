// AddonData: per-environment state of the addon (no statics: the addon loads in worker
// threads and several Node environments at once).
#ifndef HASHLOG_NATIVE_BINDING_ADDON_DATA_H_
#define HASHLOG_NATIVE_BINDING_ADDON_DATA_H_

#include <napi.h>

namespace hashlog {

struct AddonData {
  Napi::FunctionReference store_constructor;
  Napi::FunctionReference error_class;  // HashlogError, registered by lib/binding.ts
};

}  // namespace hashlog

#endif  // HASHLOG_NATIVE_BINDING_ADDON_DATA_H_
