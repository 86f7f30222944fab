// Only the C library here: with Foundation imported too, Swift 6 refuses to touch `stdout`.
#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Darwin)
@preconcurrency import Darwin
#endif

/// Line-buffers standard output, so progress lines appear as they happen, also in a file or a pipe.
func lineBufferStandardOutput() {
    setvbuf(stdout, nil, _IOLBF, 0)
}
