"""Signal processing around the network, none of it spiking.

- :mod:`engine.dsp.stft` — streaming STFT / inverse STFT, one 128-sample hop at a time (N-DNS framing);
- :mod:`engine.dsp.resampler` — streaming polyphase resampling between a device's rate and 16 kHz;
- :mod:`engine.dsp.block_resampler` — a file resampled block by block, bit-identical to one ``resample_poly``;
- :mod:`engine.dsp.mixing` — speech and noise mixed at a chosen SNR and level, the N-DNS way.
"""
