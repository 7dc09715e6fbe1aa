#!/usr/bin/env bash
# The shipped GAN's last step: blend a GAN run's EMA generator with its own L1 partner.
#
# The partner is the EMA after a short L1-only fine-tune on clean bicubic inputs: it stays in the GAN's basin,
# so a blend keeps more invented texture for the same fidelity than a blend with the faithful model the GAN
# started from (weights/README.md, "partner" table). The blend names FAITHFUL as its `--detail` partner.
#
# Usage: weights/recipes/blend_with_partner.sh RUN DATA OUT [ALPHA] [FAITHFUL]
#   RUN       a GAN training run folder (its checkpoint is read, not changed)
#   DATA      the training images for the partner's fine-tune
#   OUT       the blended generator (.safetensors); the EMA and the partner are written beside it
#             as OUT-ema.safetensors and OUT-partner.safetensors, the partner's run in OUT-partner-run/
#   ALPHA     weight of the GAN EMA (default 0.75, the shipped value)
#   FAITHFUL  the model `--detail 0` gives (default x4-psnr.safetensors, found in weights/)
# Environment: PARTNER_STEPS (250), PARTNER_PATCH (128), PARTNER_BATCH (8), THREADS (all cores),
# UPSCALE (.build/release/upscale), LAYER_ALPHAS (space-separated LAYER=ALPHA: layers that take their own weight
# of the EMA instead of ALPHA, `upscale model interpolate --layer-alpha`; the shipped default uses
# "body.7=0 conv_body=0 conv_up=0", the GAN's body with the partner's last block and tail).
set -euo pipefail
if [ $# -lt 3 ] || [ $# -gt 5 ]; then
    echo "usage: $0 RUN DATA OUT [ALPHA] [FAITHFUL]" >&2
    exit 64
fi
run=$1 data=$2 out=$3 alpha=${4:-0.75} faithful=${5:-x4-psnr.safetensors}
upscale=${UPSCALE:-.build/release/upscale}
stem=${out%.safetensors}
# Everything is checked before anything is written or trained.
fail() { echo "error: $1" >&2; exit 1; }
[ -f "$run/checkpoint/state.json" ] || fail "$run: no training checkpoint here"
[ -d "$data" ] || fail "$data: training folder does not exist"
[ "$stem" != "$out" ] || fail "$out: the blend must be a .safetensors file"
[ -d "$(dirname "$out")" ] || fail "$out: output folder $(dirname "$out") does not exist"
awk -v a="$alpha" 'BEGIN { exit !(a ~ /^[0-9]*\.?[0-9]+$/ && a + 0 <= 1) }' || fail "ALPHA must be between 0 and 1, not $alpha"
case $faithful in */*) fail "FAITHFUL must be a file name (looked up beside OUT, then in weights/), not $faithful" ;; esac
threads=()
[ -n "${THREADS:-}" ] && threads=(--threads "$THREADS")
layers=()
for pair in ${LAYER_ALPHAS:-}; do
    awk -v p="$pair" 'BEGIN { n = split(p, f, "="); exit !(n == 2 && f[1] ~ /^[A-Za-z0-9_.]+$/ && f[2] ~ /^[0-9]*\.?[0-9]+$/ && f[2] + 0 <= 1) }' ||
        fail "LAYER_ALPHAS takes LAYER=ALPHA pairs with ALPHA between 0 and 1, not $pair"
    layers+=(--layer-alpha "$pair")
done

"$upscale" train --export "$run" "$stem-ema.safetensors"
rm -rf "$stem-partner-run"
"$upscale" train --data "$data" --init "$stem-ema.safetensors" --output "$stem-partner-run" \
    --patch-size "${PARTNER_PATCH:-128}" --batch-size "${PARTNER_BATCH:-8}" --learning-rate 1e-4 \
    --steps "${PARTNER_STEPS:-250}" --validate-every 100000 "${threads[@]}"
"$upscale" train --export "$stem-partner-run" "$stem-partner.safetensors"
"$upscale" model interpolate "$stem-ema.safetensors" "$stem-partner.safetensors" --alpha "$alpha" \
    "${layers[@]}" --faithful "$faithful" "$out"
