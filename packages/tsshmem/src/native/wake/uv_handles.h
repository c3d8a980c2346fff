// libuv handles that this addon allocates with new: closed, then freed once
// libuv has let go of them (it may still touch one until the close callback).
#pragma once
#include <uv.h>

namespace tsshmem {

template <typename Handle>
void CloseAndFree(Handle* handle) {
  uv_close(reinterpret_cast<uv_handle_t*>(handle), [](uv_handle_t* closed) { delete reinterpret_cast<Handle*>(closed); });
}

}  // namespace tsshmem
