/* A fake libnvidia-ml for tests (FakeNvml.cs compiles it with gcc -shared -fPIC). It implements the entry points
   the worker binds with nvml.h's signatures and struct layouts, and answers from a key=value file whose path is
   compiled in (-DFAKE_NVML_CONFIG="\"/path\""), read again on every call so a test can change the answers.
     init=N                    nvmlInit_v2's return code (default 0)
     count=N                   device count (default 1)
     <i>.name, <i>.uuid        strings
     <i>.util_gpu, <i>.util_mem, <i>.mem_total, <i>.mem_free, <i>.mem_used, <i>.temp, <i>.power_mw,
     <i>.power_limit_mw, <i>.clock_sm, <i>.clock_mem     numbers (clocks in MHz)
     <i>.procs=PID:BYTES,...   compute processes; BYTES "na" is NVML_VALUE_NOT_AVAILABLE; empty: none
     <i>.mig_mode=0|1, <i>.mig_max=N   MIG mode now and how many MIG devices the GPU can hold
     <i>/<j>.<field>           MIG device j of GPU i, with the GPU fields above (it exists when <i>/<j>.uuid does)
   A value "!N" makes that call return error N; a missing key returns NVML_ERROR_NOT_SUPPORTED (3).
   -DFAKE_NVML_NO_V3 leaves out nvmlDeviceGetComputeRunningProcesses_v3 (a pre-R510 driver has only _v2). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>

typedef int nvmlReturn_t;
typedef struct nvmlDevice_st *nvmlDevice_t;
typedef struct { unsigned int gpu; unsigned int memory; } nvmlUtilization_t;
typedef struct { unsigned long long total; unsigned long long free; unsigned long long used; } nvmlMemory_t;
typedef struct {
    unsigned int pid;
    unsigned long long usedGpuMemory;
    unsigned int gpuInstanceId;
    unsigned int computeInstanceId;
} nvmlProcessInfo_t;

_Static_assert(sizeof(nvmlProcessInfo_t) == 24, "nvmlProcessInfo_v2_t is 24 bytes");
_Static_assert(sizeof(nvmlMemory_t) == 24, "nvmlMemory_t is 24 bytes");

#define NOT_SUPPORTED 3
#define INVALID_ARGUMENT 2
#define INSUFFICIENT_SIZE 7
#define NOT_FOUND 6
#define HANDLE_BASE 0x1000
#define MIG_HANDLE_BASE 0x100000 /* + gpu * 256 + index */

/* Copies the value of key into out; 0 when absent. */
static int lookup(const char *key, char *out, size_t size)
{
    FILE *f = fopen(FAKE_NVML_CONFIG, "r");
    if (!f) return 0;
    char line[4096];
    size_t n = strlen(key);
    int found = 0;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, key, n) == 0 && line[n] == '=') {
            char *v = line + n + 1;
            v[strcspn(v, "\r\n")] = 0;
            snprintf(out, size, "%s", v);
            found = 1;
            break;
        }
    }
    fclose(f);
    return found;
}

/* 0 with *value set; else the error the key asks for. */
static nvmlReturn_t number(const char *key, unsigned long long *value)
{
    char v[4096];
    if (!lookup(key, v, sizeof v)) return NOT_SUPPORTED;
    if (v[0] == '!') return atoi(v + 1);
    *value = strtoull(v, NULL, 10);
    return 0;
}

/* The key prefix of a handle: "i" for GPU i, "i/j" for MIG device j of GPU i. */
static void device_prefix(nvmlDevice_t device, char *out, size_t size)
{
    uintptr_t h = (uintptr_t)device;
    if (h >= MIG_HANDLE_BASE) snprintf(out, size, "%d/%d", (int)((h - MIG_HANDLE_BASE) / 256), (int)((h - MIG_HANDLE_BASE) % 256));
    else snprintf(out, size, "%d", (int)(h - HANDLE_BASE));
}

static void device_key(nvmlDevice_t device, const char *field, char *key, size_t size)
{
    char prefix[32];
    device_prefix(device, prefix, sizeof prefix);
    snprintf(key, size, "%s.%s", prefix, field);
}

static nvmlReturn_t device_number(nvmlDevice_t device, const char *field, unsigned long long *value)
{
    char key[64];
    device_key(device, field, key, sizeof key);
    return number(key, value);
}

static nvmlReturn_t device_uint(nvmlDevice_t device, const char *field, unsigned int *out)
{
    unsigned long long v = 0;
    nvmlReturn_t r = device_number(device, field, &v);
    if (r == 0) *out = (unsigned int)v;
    return r;
}

static nvmlReturn_t device_text(nvmlDevice_t device, const char *field, char *out, unsigned int length)
{
    char key[64], v[4096];
    device_key(device, field, key, sizeof key);
    if (!lookup(key, v, sizeof v)) return NOT_SUPPORTED;
    if (v[0] == '!') return atoi(v + 1);
    if (strlen(v) + 1 > length) return INSUFFICIENT_SIZE;
    strcpy(out, v);
    return 0;
}

nvmlReturn_t nvmlInit_v2(void)
{
    unsigned long long code = 0;
    return number("init", &code) == 0 ? (nvmlReturn_t)code : 0;
}

nvmlReturn_t nvmlShutdown(void) { return 0; }

const char *nvmlErrorString(nvmlReturn_t result)
{
    switch (result) {
    case 0: return "Success";
    case 2: return "Invalid Argument";
    case 3: return "Not Supported";
    case 4: return "Insufficient Permissions";
    case 7: return "Insufficient Size";
    case 9: return "Driver Not Loaded";
    case 999: return "Unknown Error";
    default: return "Fake Error";
    }
}

nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *deviceCount)
{
    unsigned long long count = 1;
    nvmlReturn_t r = number("count", &count);
    if (r != 0 && r != NOT_SUPPORTED) return r;
    *deviceCount = (unsigned int)count;
    return 0;
}

nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t *device)
{
    unsigned int count = 0;
    nvmlDeviceGetCount_v2(&count);
    if (index >= count) return INVALID_ARGUMENT;
    *device = (nvmlDevice_t)(uintptr_t)(HANDLE_BASE + index);
    return 0;
}

nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t device, char *name, unsigned int length) { return device_text(device, "name", name, length); }

nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t device, char *uuid, unsigned int length) { return device_text(device, "uuid", uuid, length); }

nvmlReturn_t nvmlDeviceGetUtilizationRates(nvmlDevice_t device, nvmlUtilization_t *utilization)
{
    nvmlUtilization_t u = {0, 0};
    nvmlReturn_t r = device_uint(device, "util_gpu", &u.gpu);
    if (r == 0) r = device_uint(device, "util_mem", &u.memory);
    if (r == 0) *utilization = u;
    return r;
}

nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t device, nvmlMemory_t *memory)
{
    nvmlMemory_t m = {0, 0, 0};
    nvmlReturn_t r = device_number(device, "mem_total", &m.total);
    if (r == 0) r = device_number(device, "mem_free", &m.free);
    if (r == 0) r = device_number(device, "mem_used", &m.used);
    if (r == 0) *memory = m;
    return r;
}

nvmlReturn_t nvmlDeviceGetTemperature(nvmlDevice_t device, int sensorType, unsigned int *temp)
{
    if (sensorType != 0) return INVALID_ARGUMENT; /* only NVML_TEMPERATURE_GPU */
    return device_uint(device, "temp", temp);
}

nvmlReturn_t nvmlDeviceGetPowerUsage(nvmlDevice_t device, unsigned int *power) { return device_uint(device, "power_mw", power); }

nvmlReturn_t nvmlDeviceGetEnforcedPowerLimit(nvmlDevice_t device, unsigned int *limit) { return device_uint(device, "power_limit_mw", limit); }

nvmlReturn_t nvmlDeviceGetClockInfo(nvmlDevice_t device, int type, unsigned int *clock)
{
    if (type == 1) return device_uint(device, "clock_sm", clock);
    if (type == 2) return device_uint(device, "clock_mem", clock);
    return INVALID_ARGUMENT;
}

static nvmlReturn_t processes(nvmlDevice_t device, unsigned int *infoCount, nvmlProcessInfo_t *infos)
{
    char key[64], v[4096];
    device_key(device, "procs", key, sizeof key);
    if (!lookup(key, v, sizeof v)) v[0] = 0;
    if (v[0] == '!') return atoi(v + 1);
    nvmlProcessInfo_t found[64];
    unsigned int n = 0;
    for (char *entry = strtok(v, ","); entry && n < 64; entry = strtok(NULL, ",")) {
        char *colon = strchr(entry, ':');
        found[n].pid = (unsigned int)strtoul(entry, NULL, 10);
        found[n].usedGpuMemory = colon && strcmp(colon + 1, "na") != 0 ? strtoull(colon + 1, NULL, 10) : ~0ULL;
        found[n].gpuInstanceId = 0xFFFFFFFFu;
        found[n].computeInstanceId = 0xFFFFFFFFu;
        n++;
    }
    if (*infoCount < n) {
        *infoCount = n;
        return INSUFFICIENT_SIZE;
    }
    if (n > 0 && infos == NULL) return INVALID_ARGUMENT;
    memcpy(infos, found, n * sizeof(nvmlProcessInfo_t));
    *infoCount = n;
    return 0;
}

#ifndef FAKE_NVML_NO_V3
nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v3(nvmlDevice_t device, unsigned int *infoCount, nvmlProcessInfo_t *infos)
{
    return processes(device, infoCount, infos);
}
#endif

nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v2(nvmlDevice_t device, unsigned int *infoCount, nvmlProcessInfo_t *infos)
{
    return processes(device, infoCount, infos);
}

nvmlReturn_t nvmlDeviceGetMigMode(nvmlDevice_t device, unsigned int *currentMode, unsigned int *pendingMode)
{
    unsigned int mode = 0;
    nvmlReturn_t r = device_uint(device, "mig_mode", &mode);
    if (r == 0) *currentMode = *pendingMode = mode;
    return r;
}

nvmlReturn_t nvmlDeviceGetMaxMigDeviceCount(nvmlDevice_t device, unsigned int *count) { return device_uint(device, "mig_max", count); }

nvmlReturn_t nvmlDeviceGetMigDeviceHandleByIndex(nvmlDevice_t device, unsigned int index, nvmlDevice_t *migDevice)
{
    char key[64], v[4096];
    uintptr_t gpu = (uintptr_t)device - HANDLE_BASE;
    if ((uintptr_t)device >= MIG_HANDLE_BASE || index >= 256) return INVALID_ARGUMENT;
    snprintf(key, sizeof key, "%d/%u.uuid", (int)gpu, index);
    if (!lookup(key, v, sizeof v)) return NOT_FOUND;
    *migDevice = (nvmlDevice_t)(uintptr_t)(MIG_HANDLE_BASE + gpu * 256 + index);
    return 0;
}
