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
#include "model/export.h"

#include "datasets/image.h"
#include "datasets/preprocess.h"
#include "datasets/stimuli.h"

#include "neural/assembly.h"
#include "neural/ceiling.h"
#include "neural/io.h"
#include "neural/simulate.h"

#include "results/activations.h"
#include "analysis/splits.h"
#include "analysis/pls.h"
#include "analysis/pls_kernel.h"
#include "analysis/ridge.h"
#include "analysis/metrics.h"
#include "analysis/linear_score.h"
#include "analysis/similarity.h"
#include "results/protocol.h"
#include "results/score_json.h"
#include "results/temporal.h"
#include "results/temporal_output.h"
#include "analysis/compare.h"
#include "results/compare_io.h"
#include "results/plot.h"
#include "results/report.h"

#endif
