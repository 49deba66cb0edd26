/*
 * The entry point every harness defines: libFuzzer calls it in a fuzzing build
 * (-DICTMON_FUZZ=ON, clang), replay.c over the seeds and kept crashers in every build.
 * It must not leak, whatever the input.
 */
#ifndef ICTMON_FUZZ_H
#define ICTMON_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
