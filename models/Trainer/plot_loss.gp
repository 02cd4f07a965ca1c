# gnuplot -e "log='models/brown-llama-5m/training_log_pretrain.csv'; out='models/brown-llama-5m/loss_pretrain.png'" models/Trainer/plot_loss.gp
set datafile separator ","
set terminal pngcairo size 900,520 font "DejaVu Sans,11"
set output out
set title "brown-llama-5m: training and held-out loss"
set xlabel "training tokens (millions)"
set ylabel "cross-entropy (nats/token)"
set grid
set key top right
set yrange [2.5:8.5]
plot log every ::1 using ($3/1e6):($5 > 0 ? $5 : 1/0) with lines lw 2 lc rgb "#1f77b4" title "train (mean of 10 steps)", \
     log every ::1 using ($3/1e6):($6 > 0 ? $6 : 1/0) with linespoints pt 7 ps 1.2 lw 2 lc rgb "#d62728" title "held-out (48 windows)"
