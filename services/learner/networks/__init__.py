"""Networks shared by the agents: torsos (MLP, IMPALA ResNet, Nature CNN), an LSTM core, heads.

Their options are the spec's `network` field (`seedrl.spec.network.NetworkConfig`).
"""
