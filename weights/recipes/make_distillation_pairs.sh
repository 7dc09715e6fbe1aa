#!/usr/bin/env bash
# Training pairs for distilling a teacher ×4 model into a small generator (`upscale train --inputs`).
#
# For every image of DATA (PNG, searched recursively) it writes, under OUT:
#   lr/NAME-clean.png  the clean MATLAB-bicubic ×4 input, with hr/NAME-clean.png the ground truth itself
#   lr/NAME-rK.png     a realistic degradation (Real-ESRGAN's pipeline, seed 100000 + 100 × image + K), with
#   hr/NAME-rK.png     the teacher's ×4 output for it (`upscale --model TEACHER`, e.g. Real-ESRGAN x4plus's
#                      ncnn file), which is the target: a fixed function of the input, so a pixel loss can
#                      learn it without averaging plausible textures away.
# Passes K = 0 … PASSES-1 are written one after another, so training can start after the first.
#
# Usage: weights/recipes/make_distillation_pairs.sh DATA OUT TEACHER.param [PASSES] [THREADS]
set -euo pipefail
data=$1 out=$2 teacher=$3 passes=${4:-3} threads=${5:-1}
upscale=${UPSCALE:-.build/release/upscale}
mkdir -p "$out/lr" "$out/hr"
mapfile -t images < <(find "$data" -name '*.png' | sort)
stem() { local relative=${1#"$data"/}; relative=${relative%.png}; echo "${relative//\//-}"; }

for index in "${!images[@]}"; do
    image=${images[$index]} name=$(stem "${images[$index]}")
    [ -e "$out/lr/$name-clean.png" ] && continue
    "$upscale" degrade "$image" "$out/lr/$name-clean.png" --scale 4 --degradation bicubic
    install -m 644 "$image" "$out/hr/$name-clean.png"
done

for ((pass = 0; pass < passes; pass++)); do
    stage="$out/stage-$pass"
    mkdir -p "$stage"
    for index in "${!images[@]}"; do
        name=$(stem "${images[$index]}")
        [ -e "$out/hr/$name-r$pass.png" ] && continue
        "$upscale" degrade "${images[$index]}" "$stage/$name-r$pass.png" --scale 4 --degradation realistic \
            --seed $((100000 + 100 * index + pass))
    done
    if compgen -G "$stage/*.png" >/dev/null; then
        "$upscale" "$stage" "$out/hr" --model "$teacher" --threads "$threads" --tile 256 --skip-existing --quiet
        mv "$stage"/*.png "$out/lr/"
    fi
    rmdir "$stage"
    echo "pass $pass written: $(ls "$out/hr" | wc -l) pairs"
done
