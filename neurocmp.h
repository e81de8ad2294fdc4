/* neurocmp: compare deep networks (CNN, CNN-F) with neural recordings.
 * Umbrella header: include this, link -lneurocmp (pkg-config neurocmp,
 * or find_package(neurocmp) and neurocmp::neurocmp in CMake). */
#ifndef NEUROCMP_H
#define NEUROCMP_H

#include "core/version.h"
#include "core/status.h"
#include "core/log.h"
#include "core/progress.h"
#include "core/tensor.h"
#include "core/rng.h"
#include "core/sha256.h"
#include "core/h5.h"
#include "core/provenance.h"
#include "core/paths.h"
#include "core/suggest.h"

#include "model/arch.h"
#include "model/net.h"
#include "model/cnnf.h"
#include "model/stability.h"

#endif
