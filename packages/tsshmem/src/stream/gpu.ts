/**
 * GPU streams (CUDA device memory shared through CUDA IPC) are not
 * implemented in this build: gpuAvailable() is false everywhere, create()
 * and open() refuse gpuDevice, and a pyshmem GPU stream opens for metadata,
 * locking and, with a CPU mirror, reading.
 */
export function gpuAvailable(): boolean {
  return false;
}
