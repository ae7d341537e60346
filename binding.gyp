{
  # The native data plane (native/*.c) as a Node-API addon: build/Release/sni_router_native.node.
  # scripts/build-native.mjs runs node-gyp at npm install and never fails the install.
  "targets": [
    {
      "target_name": "sni_router_native",
      "sources": [
        "native/binding.c",
        "native/conn.c",
        "native/events.c",
        "native/listener.c",
        "native/pipe-pool.c",
        "native/splice.c",
        "native/timer-wheel.c"
      ],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-Werror", "-O2", "-fvisibility=hidden"],
      "cflags!": ["-fno-exceptions"],
      "conditions": [
        ["OS!='linux'", { "type": "none" }]
      ]
    }
  ]
}
