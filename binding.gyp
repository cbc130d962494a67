{
  "targets": [
    {
      "target_name": "hashlog",
      "sources": [
        "native/status.cc",
        "native/crc32c.cc",
        "native/hash.cc",
        "native/file_posix.cc",
        "native/file_faults.cc",
        "native/log_format.cc",
        "native/segment.cc",
        "native/hash_index.cc",
        "native/log_writer.cc",
        "native/recovery.cc",
        "native/checkpoint.cc",
        "native/lock_file.cc",
        "native/compaction.cc",
        "native/store.cc",
        "native/store_compaction.cc",
        "native/store_shared.cc",
        "native/epoch.cc",
        "native/binding/js_status.cc",
        "native/binding/store_wrap.cc",
        "native/binding/store_compaction_wrap.cc",
        "native/binding/shared_wrap.cc",
        "native/binding/addon.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED", "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions", "-O3"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17", "-O3"],
      "cflags_cc": ["-std=c++17", "-O2", "-Wall", "-Wextra", "-fno-exceptions"],
      "cflags": ["-O2", "-Wall", "-Wextra"],
      "xcode_settings": {
        "GCC_ENABLE_CPP_EXCEPTIONS": "NO",
        "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
        "OTHER_CPLUSPLUSFLAGS": ["-O2", "-Wall", "-Wextra"]
      }
    }
  ]
}
