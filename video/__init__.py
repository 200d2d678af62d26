"""Video generation with latent neural ODE/SDE/CDE dynamics (MoCoGAN-style motion, N-CODE)."""
