module charter/bench/loadgen

go 1.22
