# gnuplot -e "log='models/brown-llama-5m/training_log_chat.csv'; out='models/brown-llama-5m/loss_chat.png'" models/Trainer/plot_chat_loss.gp
set datafile separator ","
set terminal pngcairo size 900,520 font "DejaVu Sans,11"
set output out
set title "brown-llama-5m, chat stage: training and held-out loss (context 1,024)"
set xlabel "training tokens in this stage (millions)"
set ylabel "cross-entropy (nats/token)"
set grid
set key top right
set yrange [2:6]
plot log every ::1 using ($3/1e6):($5 > 0 ? $5 : 1/0) with lines lw 2 lc rgb "#1f77b4" title "train, half text and half chat (mean of 10 steps)", \
     log every ::1 using ($3/1e6):($6 > 0 ? $6 : 1/0) with linespoints pt 7 ps 1.2 lw 2 lc rgb "#d62728" title "held-out text (48 windows of 256)", \
     log every ::1 using ($3/1e6):($7 > 0 ? $7 : 1/0) with linespoints pt 5 ps 1.2 lw 2 lc rgb "#2ca02c" title "held-out chat (12 windows of 1,024)"
