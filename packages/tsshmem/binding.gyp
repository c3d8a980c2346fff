{
  "targets": [
    {
      "target_name": "tsshmem",
      "sources": [
        "src/native/addon.cc",
        "src/native/errors.cc",
        "src/native/segment.cc",
        "src/native/lock.cc",
        "src/native/clock.cc",
        "src/native/owner.cc",
        "src/native/wake/futex.cc",
        "src/native/guard/guarded_copy.cc",
        "src/native/guard/mapping_registry.cc",
        "src/native/mapping.cc",
        "src/native/protocol/frame_protocol.cc",
        "src/native/descriptor.cc",
        "src/native/stream.cc",
        "src/native/wake/sync_wait.cc",
        "src/native/wake/wake_slots.cc",
        "src/native/wake/silent_writers.cc",
        "src/native/wake/async_wait.cc",
        "src/native/wake/futex_relay.cc",
        "src/native/ring/entry_lock.cc",
        "src/native/ring/ring_protocol.cc",
        "src/native/ring/ring_binding.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")", "src/native"],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-std=c++17", "-O2", "-Wall", "-Wextra"],
      "libraries": ["-lrt", "-lpthread"],
      "ldflags": ["-Wl,-z,nodelete"]
    }
  ]
}
